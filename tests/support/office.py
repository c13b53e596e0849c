"""Helpers of the office tests: users, login with the CSRF token, API tokens, a duplicate case."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from server.accounts import users
from server.core.extensions import db
from server.core.models import AuditEvent, Case, Enrollment

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def make_user(app: Flask, name: str, role: str) -> str:
    """Create a user; return the password."""
    with app.app_context():
        return users.create_user(name, role)


def csrf_token(client: FlaskClient, path: str = "/office/login") -> str:
    """The CSRF token of the form on ``path``."""
    page = client.get(path)
    found = CSRF.search(page.get_data(as_text=True))
    assert found, page.get_data(as_text=True)[:500]
    return found.group(1)


def login(client: FlaskClient, app: Flask, name: str, role: str) -> None:
    """Create ``name`` with ``role`` and log ``client`` in as them."""
    password = make_user(app, name, role)
    answer = client.post("/office/login", data={
        "username": name, "password": password, "csrf_token": csrf_token(client)})
    assert answer.status_code == 302, answer.get_data(as_text=True)


def token_for(app: Flask, name: str, role: str) -> dict[str, str]:
    """Create a user and issue their API token; the Authorization header."""
    make_user(app, name, role)
    with app.app_context():
        return {"Authorization": f"Bearer {users.issue_api_token(name)}"}


def duplicate_case(app: Flask, push: Callable[..., Any],
                   make_record: Callable[..., dict[str, Any]],
                   add_residents: Callable[..., None]) -> tuple[int, list[str]]:
    """Two records of one NIK pushed (no files, so complete at once): the checks' case."""
    first, second = make_record(attachments=0, serial=7), make_record(attachments=0, serial=7)
    add_residents(app, first)
    answer = push([first, second])
    assert answer.status_code == 200, answer.json
    with app.app_context():
        case_id = db.session.execute(
            select(Case.id).where(Case.kind == "duplicate_nik", Case.state == "open")
        ).scalar_one()
    return case_id, [first["id"], second["id"]]


def snapshot(app: Flask) -> dict[str, Any]:
    """Record states, case states/versions and the audit length: proof nothing changed."""
    with app.app_context():
        result = {
            "records": dict(db.session.execute(
                select(Enrollment.id, Enrollment.state)).all()),
            "cases": dict(db.session.execute(
                select(Case.id, Case.state + ":" + func.cast(Case.version, db.String))
            ).all()),
            "audit": db.session.execute(select(func.count()).select_from(AuditEvent))
            .scalar_one(),
        }
        db.session.commit()
        return result
