"""Office web UI: login, roles, CSRF, pages, resolving cases, exports."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from tests.support.office import csrf_token, duplicate_case, login, make_user, snapshot
from tests.support.records import add_residents


def test_pages_need_login(client: FlaskClient) -> None:
    answer = client.get("/office/cases")
    assert answer.status_code == 302
    assert "/office/login" in answer.headers["Location"]
    browser = client.get("/", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert browser.headers["Location"].endswith("/office/")
    assert client.get("/").json["health"] == "/healthz"  # scripts still get the JSON index


def test_session_cookie_is_the_offices_own_short_lived_one(app: Flask,
                                                            client: FlaskClient) -> None:
    password = make_user(app, "rina", "reviewer")
    answer = client.post("/office/login", data={
        "username": "rina", "password": password, "csrf_token": csrf_token(client)})
    cookie = next(value for name, value in answer.headers.items()
                  if name == "Set-Cookie" and value.startswith("jemput_office="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" in cookie
    expires = parsedate_to_datetime(cookie.split("Expires=")[1].split(";")[0])
    left = expires - dt.datetime.now(dt.UTC)
    assert dt.timedelta(hours=7, minutes=55) < left <= dt.timedelta(hours=8)  # not 31 days


def test_wrong_password_is_refused(app: Flask, client: FlaskClient) -> None:
    make_user(app, "rina", "reviewer")
    answer = client.post("/office/login", data={
        "username": "rina", "password": "salah", "csrf_token": csrf_token(client)})
    assert answer.status_code == 401
    assert "Nama pengguna atau kata sandi salah" in answer.get_data(as_text=True)
    assert client.get("/office/").status_code == 302


def test_dashboard_and_queue(app: Flask, client: FlaskClient, push: Callable[..., Any],
                             make_record: Callable[..., dict[str, Any]]) -> None:
    case_id, ids = duplicate_case(app, push, make_record, add_residents)
    login(client, app, "rina", "reviewer")
    page = client.get("/office/").get_data(as_text=True)
    assert "Dasbor" in page and "NIK ganda" in page and "laptop-1" in page
    queue = client.get("/office/cases?kind=duplicate_nik").get_data(as_text=True)
    assert f"/office/cases/{case_id}" in queue
    other = client.get("/office/cases?kind=outside_area").get_data(as_text=True)
    assert f"/office/cases/{case_id}" not in other
    case = client.get(f"/office/cases/{case_id}").get_data(as_text=True)
    assert all(record_id in case for record_id in ids)
    assert 'value="duplicate"' in case
    record = client.get(f"/office/records/{ids[0]}").get_data(as_text=True)
    assert f"/office/records/{ids[0]}/decide" not in record  # decided through its open case


def test_resolve_duplicate(app: Flask, client: FlaskClient, push: Callable[..., Any],
                           make_record: Callable[..., dict[str, Any]]) -> None:
    case_id, ids = duplicate_case(app, push, make_record, add_residents)
    login(client, app, "rina", "reviewer")
    token = csrf_token(client, f"/office/cases/{case_id}")
    answer = client.post(f"/office/cases/{case_id}/resolve", data={
        "csrf_token": token, "action": "duplicate", "version": "1", "duplicate_id": ids[1]},
        follow_redirects=True)
    assert answer.status_code == 200
    assert "ditandai duplikat" in answer.get_data(as_text=True)
    states = snapshot(app)["records"]
    assert states[ids[1]] == "duplicate"
    assert states[ids[0]] == "approved"
    record = client.get(f"/office/records/{ids[1]}").get_data(as_text=True)
    assert '<td translate="no">rina</td>' in record and "user:rina" not in record
    assert "duplikat dari" in record


def test_viewer_cannot_resolve(app: Flask, client: FlaskClient, push: Callable[..., Any],
                               make_record: Callable[..., dict[str, Any]]) -> None:
    case_id, _ = duplicate_case(app, push, make_record, add_residents)
    login(client, app, "vera", "viewer")
    page = client.get(f"/office/cases/{case_id}").get_data(as_text=True)
    assert 'value="approve"' not in page  # no form for a viewer
    before = snapshot(app)
    answer = client.post(f"/office/cases/{case_id}/resolve", data={
        "csrf_token": csrf_token(client, f"/office/cases/{case_id}"),
        "action": "approve", "version": "1"})
    assert answer.status_code == 403
    assert "Akses ditolak" in answer.get_data(as_text=True)
    assert snapshot(app) == before


def test_stale_case_is_a_conflict(app: Flask, client: FlaskClient, push: Callable[..., Any],
                                  make_record: Callable[..., dict[str, Any]]) -> None:
    case_id, ids = duplicate_case(app, push, make_record, add_residents)
    login(client, app, "rina", "reviewer")
    token = csrf_token(client, f"/office/cases/{case_id}")
    first = client.post(f"/office/cases/{case_id}/resolve", data={
        "csrf_token": token, "action": "approve", "version": "1"})
    assert first.status_code == 302
    before = snapshot(app)
    second = client.post(f"/office/cases/{case_id}/resolve", data={
        "csrf_token": token, "action": "duplicate", "version": "1", "duplicate_id": ids[0]})
    assert second.status_code == 409
    assert "rina" in second.get_data(as_text=True)
    assert snapshot(app) == before


def test_form_without_csrf_token(app: Flask, client: FlaskClient, push: Callable[..., Any],
                                 make_record: Callable[..., dict[str, Any]]) -> None:
    case_id, _ = duplicate_case(app, push, make_record, add_residents)
    login(client, app, "rina", "reviewer")
    before = snapshot(app)
    for token in (None, "forged"):
        data = {"action": "approve", "version": "1"}
        if token:
            data["csrf_token"] = token
        answer = client.post(f"/office/cases/{case_id}/resolve", data=data)
        assert answer.status_code == 400
        assert "token keamanan (CSRF)" in answer.get_data(as_text=True)
    assert snapshot(app) == before


def test_login_form_needs_csrf(app: Flask, client: FlaskClient) -> None:
    password = make_user(app, "rina", "reviewer")
    answer = client.post("/office/login", data={"username": "rina", "password": password})
    assert answer.status_code == 400
    assert client.get("/office/").status_code == 302


def test_csv_export(app: Flask, client: FlaskClient, push: Callable[..., Any],
                    make_record: Callable[..., dict[str, Any]]) -> None:
    case_id, ids = duplicate_case(app, push, make_record, add_residents)
    login(client, app, "vera", "viewer")
    cases = client.get("/office/cases.csv?kind=duplicate_nik")
    assert cases.mimetype == "text/csv"
    lines = cases.get_data(as_text=True).lstrip("\ufeff").splitlines()
    assert lines[0].startswith("id,kind,state") and lines[1].startswith(f"{case_id},")
    records = client.get("/office/records?format=csv&desa=61.09.04.2006").get_data(as_text=True)
    assert all(record_id in records for record_id in ids)


def test_bulk_approve_supervisor_only(app: Flask, client: FlaskClient,
                                      push: Callable[..., Any],
                                      make_record: Callable[..., dict[str, Any]]) -> None:
    record = make_record(attachments=0, serial=9)
    add_residents(app, record)
    push([record])
    assert snapshot(app)["records"][record["id"]] == "verified"
    login(client, app, "rina", "reviewer")
    token = csrf_token(client, "/office/records")
    refused = client.post("/office/records/bulk-approve",
                          data={"csrf_token": token, "desa": "61.09.04.2006"})
    assert refused.status_code == 403
    assert snapshot(app)["records"][record["id"]] == "verified"
    client.post("/office/logout", data={"csrf_token": token})
    login(client, app, "sari", "supervisor")
    done = client.post("/office/records/bulk-approve", data={
        "csrf_token": csrf_token(client, "/office/records"), "desa": "61.09.04.2006"},
        follow_redirects=True)
    assert "1 rekaman terverifikasi" in done.get_data(as_text=True)
    assert snapshot(app)["records"][record["id"]] == "approved"


def test_record_page_diff_and_files(app: Flask, client: FlaskClient, push: Callable[..., Any],
                                    make_record: Callable[..., dict[str, Any]]) -> None:
    from shared.canonical import with_hash
    from tests.support.office_scenario import png, store_blob

    with app.app_context():
        photo = {"role": "photo", **store_blob(png(20, 30, (200, 120, 90), 5))}
    record = make_record(attachments=0, serial=11, hashed=False)
    record["attachments"] = [photo]
    record = with_hash(record)
    registry = dict(record, payload=dict(record["payload"], nama="MARIA GORETI"))
    add_residents(app, registry)
    push([record])
    path = f"/office/records/{record['id']}/files/photo"
    assert client.get(path).status_code == 302  # files only for logged-in users
    login(client, app, "vera", "viewer")
    page = client.get(f"/office/records/{record['id']}").get_data(as_text=True)
    assert '<tr class="differs"><th>Nama lengkap</th>' in page and "<th>nama</th>" not in page
    assert '<td>MARIA GORETI <span class="badge">' in page
    assert 'value="approve"' not in page  # a viewer sees no decision form
    image = client.get(path)
    assert image.status_code == 200 and image.mimetype == "image/png"
    assert image.data.startswith(b"\x89PNG") and "no-store" in image.headers["Cache-Control"]
    missing = client.get(f"/office/records/{record['id']}/files/signature")
    assert missing.status_code == 404 and "tidak punya berkas" in missing.get_data(as_text=True)
    assert client.get("/office/records/nope").status_code == 404
    assert client.get("/office/cases/abc").status_code == 404


def test_login_redirect_stays_on_this_site(app: Flask, client: FlaskClient) -> None:
    password = make_user(app, "rina", "reviewer")
    answer = client.post("/office/login", data={
        "username": "rina", "password": password, "csrf_token": csrf_token(client),
        "next": "https://evil.example/office"})
    assert answer.headers["Location"] == "/office/"


def test_login_page_warns_when_the_cookie_cannot_come_back(app: Flask,
                                                          client: FlaskClient) -> None:
    app.config["SESSION_COOKIE_SECURE"] = True
    remote = client.get("/office/login", base_url="http://10.0.0.5").get_data(as_text=True)
    assert "JEMPUT_SECURE_COOKIES=0" in remote
    local = client.get("/office/login").get_data(as_text=True)  # localhost: browsers keep it
    assert "JEMPUT_SECURE_COOKIES=0" not in local


def test_sequence_gap_on_dashboard_and_acknowledged(
        app: Flask, client: FlaskClient, push: Callable[..., Any],
        make_record: Callable[..., dict[str, Any]]) -> None:
    from sqlalchemy import select

    from server.core.extensions import db
    from server.core.models import Case
    from server.review import checks

    one, three = make_record(1, attachments=0), make_record(3, attachments=0)
    add_residents(app, one, three)
    push([one, three])
    with app.app_context():
        checks.run_checks()
        gap = db.session.execute(select(Case.id).where(Case.kind == "sequence_gap")).scalar_one()
    login(client, app, "rina", "reviewer")
    board = client.get("/office/").get_data(as_text=True)
    assert f"/office/cases/{gap}" in board
    page = client.get(f"/office/cases/{gap}").get_data(as_text=True)
    assert 'value="acknowledge"' in page and 'value="duplicate"' not in page
    before = snapshot(app)["records"]
    done = client.post(f"/office/cases/{gap}/resolve", data={
        "csrf_token": csrf_token(client, f"/office/cases/{gap}"), "action": "acknowledge",
        "version": "1", "reason": "Rekaman 2 batal"}, follow_redirects=True)
    assert "dicatat" in done.get_data(as_text=True)
    assert snapshot(app)["records"] == before  # a gap names no record
    assert f"/office/cases/{gap}" not in client.get("/office/").get_data(as_text=True)


def test_decide_one_record(app: Flask, client: FlaskClient, push: Callable[..., Any],
                           make_record: Callable[..., dict[str, Any]]) -> None:
    record = make_record(attachments=0, serial=12)
    add_residents(app, record)
    push([record])
    login(client, app, "rina", "reviewer")
    path = f"/office/records/{record['id']}"
    token = csrf_token(client, path)
    before = snapshot(app)
    no_reason = client.post(f"{path}/decide", data={"csrf_token": token, "action": "reject"})
    assert no_reason.status_code == 400 and "alasan" in no_reason.get_data(as_text=True).lower()
    assert snapshot(app) == before
    sent = client.post(f"{path}/decide", data={
        "csrf_token": token, "action": "needs_fix", "reason": "Foto buram"},
        follow_redirects=True)
    page = sent.get_data(as_text=True)
    assert "dikembalikan untuk perbaikan" in page and "Foto buram" in page
    assert snapshot(app)["records"][record["id"]] == "needs_fix"


def test_csv_with_a_bad_filter_is_a_400_page(app: Flask, client: FlaskClient) -> None:
    login(client, app, "vera", "viewer")
    for path in ("/office/cases.csv?state=bogus", "/office/records.csv?state=zz",
                 "/office/cases?after=%C2%B2"):
        answer = client.get(path)
        assert answer.status_code == 400, path
        assert answer.mimetype == "text/html"
