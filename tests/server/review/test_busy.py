"""Every lock wait is bounded: a decision that waits past the lock timeout (a full check run
holds the checks' lock) is answered 503 ``busy`` with Retry-After, and changes nothing."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from flask import Flask

from server.core.extensions import db, dispose_engines
from server.review.checks import ADVISORY_LOCK
from tests.support.office import duplicate_case, login, snapshot, token_for
from tests.support.records import add_residents
from tests.support.server_app import assert_problem, make_app

API = "/api/v1/office"


@contextmanager
def checks_lock_held(app: Flask) -> Iterator[None]:
    """What a long check run holds: the checks' advisory lock (PostgreSQL) or the one write
    lock (SQLite), taken from a connection of the test's own."""
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    if url.startswith("sqlite"):
        conn = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            conn.execute("ROLLBACK")
            conn.close()
        return
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"),
                         autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (ADVISORY_LOCK,))
        try:
            yield
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (ADVISORY_LOCK,))


def test_a_decision_behind_a_held_lock_is_busy_then_goes_through(
        app: Flask, push: Callable[..., Any], make_record: Callable[..., dict[str, Any]],
        tmp_path: Path) -> None:
    case_id, ids = duplicate_case(app, push, make_record, add_residents)
    impatient = make_app(tmp_path / "other-host", app.config["SQLALCHEMY_DATABASE_URI"],
                         SECRET_KEY=app.config["SECRET_KEY"],
                         JEMPUT_KEYRING=app.config["JEMPUT_KEYRING"],
                         JEMPUT_LOCK_TIMEOUT_SECONDS=0.5)
    try:
        client = impatient.test_client()
        headers = token_for(impatient, "rina", "reviewer")
        browser = impatient.test_client()
        login(browser, impatient, "sari", "reviewer")
        page = browser.get(f"/office/cases/{case_id}")
        token = page.get_data(as_text=True).split('name="csrf_token" value="')[1].split('"')[0]
        before = snapshot(app)
        with checks_lock_held(app):
            busy = client.post(f"{API}/cases/{case_id}/resolve", headers=headers,
                               json={"action": "duplicate", "version": 1,
                                     "duplicate_id": ids[0]})
            assert "tidak ada yang diubah" in assert_problem(busy, 503, "busy")["detail"]
            assert busy.headers["Retry-After"] == "5"
            form = browser.post(f"/office/cases/{case_id}/resolve", data={
                "action": "approve", "version": "1", "csrf_token": token})
            assert form.status_code == 503
            assert "Coba lagi sebentar" in form.get_data(as_text=True)
        with impatient.app_context():
            db.session.remove()
        assert snapshot(app) == before
        done = client.post(f"{API}/cases/{case_id}/resolve", headers=headers,
                           json={"action": "duplicate", "version": 1, "duplicate_id": ids[0]})
        assert done.status_code == 200, done.json
    finally:
        dispose_engines(impatient)
