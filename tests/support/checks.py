"""Reading back what the reconciliation checks did: a record's state, every case and its records.

``Push`` and ``Make`` are the types of the ``push`` and ``make_record`` fixtures.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask
from sqlalchemy import select

from server.core.extensions import db
from server.core.models import Case, CaseRecord, Enrollment

Push = Callable[..., Any]
Make = Callable[..., dict[str, Any]]


def state_of(app: Flask, record_id: str) -> str:
    with app.app_context():
        stored = db.session.get(Enrollment, record_id)
        assert stored is not None
        return stored.state


def cases_of(app: Flask) -> list[dict[str, Any]]:
    """Every case with its records, oldest first."""
    with app.app_context():
        found = []
        for case in db.session.execute(select(Case).order_by(Case.id)).scalars():
            records = db.session.execute(
                select(CaseRecord.enrollment_id).where(CaseRecord.case_id == case.id)
                .order_by(CaseRecord.position)).scalars().all()
            found.append({"id": case.id, "kind": case.kind, "state": case.state,
                          "resolution": case.resolution, "records": list(records),
                          "explanation": case.explanation, "device_id": case.device_id,
                          "team": case.team, "desa_kode": case.desa_kode,
                          "resolved_by": case.resolved_by})
        return found
