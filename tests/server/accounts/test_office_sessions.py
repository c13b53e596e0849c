"""Office sessions end for real, on every server process; failed logins slow the next ones.

Each test keeps a copy of the browser's cookie and shows that, once the session ended (logout,
a disabled user, a new password, too long idle or too old), the same cookie opens nothing, the
photo download included. "Another server process" is a second app over the same database and
instance folder: nothing of a session or of a login count lives in a process's memory.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update

from server.accounts import office_auth, throttle
from server.core.extensions import db, dispose_engines
from server.core.models import LoginFailure, OfficeSession
from tests.support.office import csrf_token, login, make_user
from tests.support.server_app import make_app

COOKIE = "jemput_office"
PHOTO = "/office/records/0193a4f2-7c1e-7d2a-9b1e-2f4c8a1d5e60/files/photo"


@pytest.fixture
def other_app(app: Flask) -> Iterator[Flask]:
    """A second server process: another app over the same database and instance folder."""
    second = make_app(Path(app.instance_path), app.config["SQLALCHEMY_DATABASE_URI"])
    yield second
    dispose_engines(second)


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The waits a throttled login was given (recorded, not slept)."""
    waited: list[float] = []
    monkeypatch.setattr(office_auth, "sleep", waited.append)
    return waited


def cookie_of(client: FlaskClient) -> str:
    cookie = client.get_cookie(COOKIE)
    assert cookie is not None
    return cookie.value


def with_cookie(app: Flask, value: str) -> FlaskClient:
    """A fresh browser holding a copied session cookie."""
    browser = app.test_client()
    browser.set_cookie(COOKIE, value)
    return browser


def opens(browser: FlaskClient) -> bool:
    """Whether the cookie still opens the office (the dashboard, and the photo download is
    not sent to the login page)."""
    page = browser.get("/office/")
    photo = browser.get(PHOTO)
    if page.status_code == 200:
        assert "/office/login" not in photo.headers.get("Location", "")
        return True
    assert page.status_code == 302 and "/office/login" in page.headers["Location"]
    assert photo.status_code == 302 and "/office/login" in photo.headers["Location"]
    return False


def logout(client: FlaskClient) -> None:
    answer = client.post("/office/logout", data={"csrf_token": csrf_token(client, "/office/")})
    assert answer.status_code == 302


def test_a_cookie_copied_before_logout_opens_nothing_after_it(
    app: Flask, client: FlaskClient
) -> None:
    login(client, app, "rina", "reviewer")
    copied = cookie_of(client)
    assert opens(with_cookie(app, copied))
    logout(client)
    assert not opens(with_cookie(app, copied))
    assert not opens(client)


def test_logout_on_one_process_ends_the_session_on_the_other(
    app: Flask, other_app: Flask, client: FlaskClient
) -> None:
    login(client, app, "rina", "reviewer")
    copied = cookie_of(client)
    assert opens(with_cookie(other_app, copied))
    logout(with_cookie(other_app, copied))
    assert not opens(with_cookie(app, copied))
    assert not opens(with_cookie(other_app, copied))


def test_disabling_a_user_ends_every_session_of_theirs(app: Flask, client: FlaskClient) -> None:
    password = make_user(app, "rina", "reviewer")
    copies = []
    for _ in range(2):  # two browsers
        browser = app.test_client()
        answer = browser.post("/office/login", data={
            "username": "rina", "password": password, "csrf_token": csrf_token(browser)})
        assert answer.status_code == 302
        copies.append(cookie_of(browser))
    assert all(opens(with_cookie(app, copy)) for copy in copies)
    done = app.test_cli_runner().invoke(args=["user-disable", "rina"])
    assert done.exit_code == 0, done.output
    assert "2 sesi diakhiri" in done.output
    assert not any(opens(with_cookie(app, copy)) for copy in copies)
    # Enabled again, the old cookies stay dead: a new login is needed.
    assert app.test_cli_runner().invoke(args=["user-enable", "rina"]).exit_code == 0
    assert not any(opens(with_cookie(app, copy)) for copy in copies)


def test_a_new_password_ends_every_session_of_the_user_only(
    app: Flask, client: FlaskClient
) -> None:
    login(client, app, "rina", "reviewer")
    other = app.test_client()
    login(other, app, "budi", "viewer")
    mine, theirs = cookie_of(client), cookie_of(other)
    done = app.test_cli_runner().invoke(args=["user-password", "rina"])
    assert done.exit_code == 0 and "Kata sandi baru" in done.output
    assert not opens(with_cookie(app, mine))
    assert opens(with_cookie(app, theirs))  # another user's session stands
    new_password = done.output.strip().splitlines()[-1].strip()
    browser = app.test_client()
    answer = browser.post("/office/login", data={
        "username": "rina", "password": new_password, "csrf_token": csrf_token(browser)})
    assert answer.status_code == 302 and opens(browser)


def test_an_idle_session_ends_and_an_active_one_stands(app: Flask, client: FlaskClient) -> None:
    login(client, app, "rina", "reviewer")
    copied = cookie_of(client)

    def age(field: str, minutes: float) -> None:
        with app.app_context():
            moment = db.session.execute(select(func.max(getattr(OfficeSession, field)))).scalar()
            db.session.execute(update(OfficeSession).values(
                {field: moment - dt.timedelta(minutes=minutes)}))
            db.session.commit()

    age("last_seen_at", 29)  # within the 30 minutes: stands, and is noted as seen now
    assert opens(with_cookie(app, copied))
    age("last_seen_at", 31)
    assert not opens(with_cookie(app, copied))
    login(client, app, "budi", "viewer")
    fresh = cookie_of(client)
    age("created_at", 8 * 60 + 1)  # active all along, but older than the 8 hours
    assert not opens(with_cookie(app, fresh))


def test_the_session_cookie_holds_no_user_name(app: Flask, client: FlaskClient) -> None:
    login(client, app, "rina", "reviewer")
    with app.app_context():
        stored = db.session.execute(select(OfficeSession.id)).scalar_one()
    assert len(stored) == 64  # the token's hash, never the token
    assert stored not in cookie_of(client)


def failed_login(app: Flask, name: str, address: str = "203.0.113.7") -> int:
    browser = app.test_client()
    answer = browser.post("/office/login", environ_base={"REMOTE_ADDR": address}, data={
        "username": name, "password": "salah", "csrf_token": csrf_token(browser)})
    return answer.status_code


def test_failed_logins_slow_the_name_down_on_every_process(
    app: Flask, other_app: Flask, sleeps: list[float]
) -> None:
    password = make_user(app, "rina", "reviewer")
    for index in range(5):  # from two processes and five addresses
        assert failed_login(app if index % 2 else other_app, "rina", f"203.0.113.{index}") == 401
    assert sleeps == [0.0, 0.0, 0.0, 1.0, 2.0]
    # Not a lock: the right password still gets in, after the wait its name has earned.
    browser = other_app.test_client()
    answer = browser.post("/office/login", environ_base={"REMOTE_ADDR": "198.51.100.9"}, data={
        "username": "rina", "password": password, "csrf_token": csrf_token(browser)})
    assert answer.status_code == 302 and sleeps[-1] == 4.0
    assert opens(browser)
    # A success starts the name's count again.
    failed_login(app, "rina", "198.51.100.10")
    assert sleeps[-1] == 0.0
    with app.app_context():  # the counters are hashed: no name or address in the table
        keys = db.session.execute(select(LoginFailure.key)).scalars().all()
    assert keys and not any("rina" in key or "203.0" in key for key in keys)


def test_the_wait_is_capped_and_an_address_that_fails_too_often_is_refused(
    app: Flask, sleeps: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(throttle, "ADDRESS_LIMIT", 12)
    for index in range(12):
        assert failed_login(app, f"nama{index}", "203.0.113.99") == 401
    assert max(sleeps) == throttle.MAX_DELAY  # the address's wait, capped
    browser = app.test_client()
    answer = browser.post("/office/login", environ_base={"REMOTE_ADDR": "203.0.113.99"}, data={
        "username": "siapa", "password": "x", "csrf_token": csrf_token(browser)})
    assert answer.status_code == 429 and answer.headers["Retry-After"] == "900"
    assert "Terlalu banyak login gagal" in answer.get_data(as_text=True)
    # Another address is not refused: the refusal is the trier's own, nobody else's.
    assert failed_login(app, "siapa", "198.51.100.1") == 401


def test_stale_failures_are_forgotten(app: Flask, sleeps: list[float]) -> None:
    for _ in range(4):
        failed_login(app, "rina")
    with app.app_context():
        for row in db.session.execute(select(LoginFailure)).scalars():
            row.last_at -= dt.timedelta(minutes=16)
        db.session.commit()
    failed_login(app, "rina")
    assert sleeps[-1] == 0.0
