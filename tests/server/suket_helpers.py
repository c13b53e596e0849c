"""Helpers of the Suket tests: approved records, Sukets put in place directly, row counts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from flask import Flask
from sqlalchemy import func, select

from server.extensions import db
from server.models import AuditEvent, BlankoEntry, Change, Enrollment, PrintJob, Suket
from server.services import review
from server.services.review import Actor
from server.timeutil import utcnow
from tests.server.conftest import add_residents

SUPERVISOR = Actor("sari", "supervisor")


def approved_record(app: Flask, push: Callable[..., Any],
                    make_record: Callable[..., dict[str, Any]], **options: Any) -> str:
    """Push one record (no files, registry match) and approve it; its id."""
    record = make_record(attachments=0, **options)
    add_residents(app, record)
    answer = push([record])
    assert answer.status_code == 200, answer.json
    with app.app_context():
        state = db.session.execute(
            select(Enrollment.state).where(Enrollment.id == record["id"])).scalar_one()
        db.session.commit()
        if state != "approved":
            review.decide_record(record["id"], actor=SUPERVISOR, action="approve")
    return str(record["id"])


def fake_print_job(app: Flask, record_id: str) -> int:
    """A print job row for ``record_id`` (what helper D's print_card writes), uncommitted id."""
    job = PrintJob(enrollment_id=record_id, state="printed", printed_at=utcnow(),
                   actor="user:sari")
    db.session.add(job)
    db.session.flush()
    return int(job.id)


def counts(app: Flask) -> dict[str, Any]:
    """Sukets (with states), records' states, ledger, print jobs, feed and audit lengths."""
    with app.app_context():
        result: dict[str, Any] = {
            model.__tablename__: db.session.execute(
                select(func.count()).select_from(model)).scalar_one()
            for model in (Suket, BlankoEntry, PrintJob, Change, AuditEvent)
        }
        result["suket_states"] = sorted(db.session.execute(
            select(Suket.id, Suket.state, Suket.expires_on, Suket.renewals)).all())
        result["records"] = dict(db.session.execute(
            select(Enrollment.id, Enrollment.state)).all())
        db.session.commit()
        return result


def day(text: str) -> dt.date:
    return dt.date.fromisoformat(text)
