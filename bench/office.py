"""An office session for the benchmarks that time pages through the real app."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask

from server.accounts import users

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def log_in(app: Flask, password: str, username: str = "bench") -> Any:
    """A test client of ``app`` logged in to the office as ``username``."""
    app.config["SESSION_COOKIE_SECURE"] = False  # the test client speaks plain HTTP
    client = app.test_client()
    found = CSRF.search(client.get("/office/login").get_data(as_text=True))
    assert found is not None
    answer = client.post("/office/login", data={"username": username, "password": password,
                                                "csrf_token": found.group(1)})
    assert answer.status_code in (302, 303), answer.status_code
    return client


def logged_in(app: Flask, role: str) -> tuple[Any, str]:
    """A new office user "bench" of ``role``: a logged-in client and an API token."""
    with app.app_context():
        password = users.create_user("bench", role)
        token = users.issue_api_token("bench")
    return log_in(app, password), token
