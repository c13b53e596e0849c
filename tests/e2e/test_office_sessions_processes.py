"""Two real server processes over one database: a logout on one ends the session on the other,
and failed logins on one slow the next try on the other.

The browser is ``requests`` carrying the session cookie by hand (the cookie is Secure, and these
servers speak plain HTTP on loopback).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
import requests

from tests.support.processes import ServerProcess

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
COOKIE = "jemput_office"


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess,
                                                                  ServerProcess]]:
    """Two gunicorn processes (one worker each) over the same instance and database (shared by
    this module's tests, each with its own user)."""
    instance = tmp_path_factory.mktemp("two-servers") / "instance"
    first = ServerProcess.initialised(instance, workers=1, threads=2)
    second = ServerProcess(instance)
    second.start(workers=1, threads=2)
    yield first, second
    second.stop()
    first.stop()


class Browser:
    """One browser: its session cookie, sent by hand."""

    def __init__(self) -> None:
        self.cookie = ""

    def request(self, method: str, url: str, **options: object) -> requests.Response:
        headers = {"Cookie": f"{COOKIE}={self.cookie}"} if self.cookie else {}
        answer = requests.request(method, url, headers=headers, allow_redirects=False,
                                  timeout=30, **options)  # type: ignore[arg-type]
        if COOKIE in answer.cookies:
            self.cookie = answer.cookies[COOKIE]
        return answer

    def token(self, url: str) -> str:
        found = CSRF.search(self.request("GET", url).text)
        assert found, "no CSRF token on " + url
        return found.group(1)

    def login(self, server: ServerProcess, name: str, password: str) -> requests.Response:
        token = self.token(server.url + "/office/login")
        return self.request("POST", server.url + "/office/login", data={
            "username": name, "password": password, "csrf_token": token})


def password_of(server: ServerProcess, name: str) -> str:
    printed = server.cli("create-user", name, "--role", "reviewer")
    return printed.strip().splitlines()[-1].strip()


def test_a_logout_on_one_process_ends_the_session_on_the_other(
    pair: tuple[ServerProcess, ServerProcess]
) -> None:
    first, second = pair
    password = password_of(first, "rina")
    browser = Browser()
    assert browser.login(first, "rina", password).status_code == 302
    copied = browser.cookie
    assert browser.request("GET", second.url + "/office/").status_code == 200
    token = browser.token(second.url + "/office/")
    assert browser.request("POST", second.url + "/office/logout",
                           data={"csrf_token": token}).status_code == 302
    thief = Browser()
    thief.cookie = copied
    for server in (first, second):
        answer = thief.request("GET", server.url + "/office/")
        assert answer.status_code == 302 and "/office/login" in answer.headers["Location"]


def test_failed_logins_on_one_process_slow_the_next_try_on_the_other(
    pair: tuple[ServerProcess, ServerProcess]
) -> None:
    first, second = pair
    password = password_of(first, "budi")
    for _ in range(3):  # the free failures, on the first process
        assert Browser().login(first, "budi", "salah").status_code == 401
    started = time.monotonic()
    answer = Browser().login(second, "budi", password)  # the right password, elsewhere
    waited = time.monotonic() - started
    assert answer.status_code == 302  # a delay, not a lock: the real user gets in
    assert waited >= 1.0  # the fourth try waits 1 s, whichever process answers it
