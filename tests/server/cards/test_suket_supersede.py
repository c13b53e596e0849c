"""suket.supersede_for_print: the print transaction retires the record's valid Sukets."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from flask import Flask
from sqlalchemy import select

from server.cards import suket
from server.core.extensions import db
from server.core.models import AuditEvent, Suket
from server.core.timeutil import utcnow
from tests.support.suket import SUPERVISOR, approved_record, fake_print_job


def _suket(record_id: str, number: str, state: str = "valid",
           issued_on: dt.date = dt.date(2026, 1, 5)) -> Suket:
    return Suket(number=number, enrollment_id=record_id, state=state, issued_on=issued_on,
                 expires_on=dt.date(2026, 7, 5), renewals=0, issued_by="user:sari",
                 created_at=utcnow())


def test_supersede_for_print_retires_valid_sukets(app: Flask, push: Callable[..., Any],
                                                  make_record: Callable[..., Any]) -> None:
    record_id = approved_record(app, push, make_record)
    other_id = approved_record(app, push, make_record)
    with app.app_context():
        db.session.add_all([_suket(record_id, "474/00001/SKT-DKPS/2026"),
                            _suket(other_id, "474/00002/SKT-DKPS/2026")])
        db.session.commit()
        job_id = fake_print_job(app, record_id)
        at = utcnow()
        assert suket.supersede_for_print(record_id, job_id, at) == 1
        db.session.commit()
        rows = {row.number: row for row in db.session.execute(select(Suket)).scalars()}
        mine, theirs = rows["474/00001/SKT-DKPS/2026"], rows["474/00002/SKT-DKPS/2026"]
        assert (mine.state, mine.print_job_id) == ("superseded", job_id)
        assert mine.superseded_at is not None
        assert (theirs.state, theirs.superseded_at) == ("valid", None)
        [event] = db.session.execute(
            select(AuditEvent).where(AuditEvent.action == "suket_superseded")).scalars()
        assert event.record_id == record_id
        assert event.detail == {"suket_id": mine.id, "number": mine.number,
                                "print_job_id": job_id}
        # Nothing left to supersede: a second call (a reprint) changes nothing.
        assert suket.supersede_for_print(record_id, job_id, utcnow()) == 0
        db.session.commit()
        assert db.session.execute(select(AuditEvent).where(
            AuditEvent.action == "suket_superseded")).scalars().all() == [event]


def test_a_suket_holder_keeps_their_place_ahead_of_later_approvals(
    app: Flask, push: Callable[..., Any], make_record: Callable[..., Any]
) -> None:
    from server.cards import printing

    first = approved_record(app, push, make_record)
    later = approved_record(app, push, make_record)
    with app.app_context():
        suket.issue(first, SUPERVISOR)  # no blank: the first in line gets a Suket now
        order = [item.id for item in printing.queue().items]
    assert order == [first, later]
