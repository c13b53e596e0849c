"""The bulk paths of the checks: audit events streamed with COPY, ``= ANY(array)`` look-ups.

Both run on SQLite and PostgreSQL: on SQLite they fall back to an executemany and IN lists, so
the two databases must end with the same rows and the same chain.
"""

from __future__ import annotations

import datetime as dt

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from server.core import audit, bulk
from server.core.extensions import db
from server.core.models import AuditEvent, Case
from server.core.models.base import table_of

AT = dt.datetime(2026, 12, 7, 2, 30, 15, 123456, tzinfo=dt.UTC)
#: Text COPY must escape: tabs, newlines, backslashes, quotes, non-ASCII, a COPY end marker.
AWKWARD = ("tab\there", "line\nbreak\r\nand more", "back\\slash \\N \\.", "quote ' \" ok",
           "María Gorétti — ñ 💳", "\\.", "")


def events(count: int) -> list[audit.Event]:
    """``count`` events, at least :data:`bulk.COPY_FROM` of them (COPY on PostgreSQL)."""
    made = []
    for i in range(count):
        reason = AWKWARD[i % len(AWKWARD)] if i % 3 else None
        detail = None if i % 2 else {"kind": "duplicate_nik", "note": AWKWARD[i % len(AWKWARD)],
                                     "n": i, "nested": {"list": [1, None, "x\ty"]}}
        made.append(audit.Event(
            actor=audit.SYSTEM if i % 4 else "user:alice", action="checks",
            record_id=f"rec-{i:05d}" if i % 5 else None, case_id=i if i % 7 == 0 else None,
            from_state="complete", to_state="verified" if i % 2 else "needs_review",
            reason=reason, detail=detail))
    return made


def stored(app: Flask) -> list[audit.Event]:
    with app.app_context():
        rows = db.session.execute(select(
            AuditEvent.actor, AuditEvent.action, AuditEvent.record_id, AuditEvent.case_id,
            AuditEvent.from_state, AuditEvent.to_state, AuditEvent.reason, AuditEvent.detail,
        ).order_by(AuditEvent.id)).all()
        db.session.commit()
    return [audit.Event(*row) for row in rows]


def test_a_long_batch_of_events_is_stored_and_chained_as_given(app: Flask) -> None:
    first, second = events(bulk.COPY_FROM + 57), events(3)
    with app.app_context():
        audit.append(first, at=AT)
        db.session.commit()
        audit.append(second)  # a short batch after a long one: the chain goes on
        db.session.commit()
        report = audit.verify_chain()
        stamps = set(db.session.execute(
            select(AuditEvent.at).where(AuditEvent.id <= len(first))).scalars())
    assert report.ok, report.problems
    assert report.checked == len(first) + len(second)
    assert stored(app) == first + second
    assert {stamp.astimezone(dt.UTC) if stamp.tzinfo else stamp.replace(tzinfo=dt.UTC)
            for stamp in stamps} == {AT}


def test_a_long_batch_hashes_the_same_as_short_ones(app: Flask) -> None:
    """The chain's hashes depend on the events only, not on how they were written."""
    made = events(bulk.COPY_FROM)
    expected, previous = [], "0" * 64
    with app.app_context():
        head = audit._lock_head()
        previous = head[1]
        for number, event in enumerate(made, start=head[0] + 1):
            previous = audit.event_hash(previous, number, AT, event)
            expected.append(previous)
        audit.append(made, at=AT)
        db.session.commit()
        hashes = list(db.session.execute(select(AuditEvent.hash).order_by(AuditEvent.id))
                      .scalars())
        db.session.commit()
    assert hashes == expected


def test_a_conflicting_bulk_insert_raises_integrity_error(app: Flask) -> None:
    made = events(bulk.COPY_FROM)
    with app.app_context():
        audit.append(made, at=AT)
        db.session.commit()
        rows = [(1, AT, "system", "checks", None, None, None, None, None, None, "0" * 64,
                 "1" * 64)] * bulk.COPY_FROM
        with pytest.raises(IntegrityError):
            bulk.copy_rows(table_of(AuditEvent), audit.COLUMNS, rows)
        db.session.rollback()
        assert audit.verify_chain().checked == len(made)


@pytest.mark.parametrize("probes", [False, True])
def test_among_finds_values_beyond_one_in_list(app: Flask, probes: bool) -> None:
    keys = [f"kind:subject:{i:05d}" for i in range(2 * bulk.IN_CHUNK + 500)]
    wanted = [keys[3], keys[bulk.IN_CHUNK + 7], keys[-1]]
    with app.app_context():
        db.session.add_all(Case(kind="not_in_registry", key=key, state="open",
                                explanation="-", opened_at=AT) for key in wanted)
        db.session.commit()
        conditions = list(bulk.among(Case.key, keys, probes=probes))
        found = [key for condition in conditions
                 for key in db.session.execute(select(Case.key).where(condition)).scalars()]
        postgresql = db.session.get_bind().dialect.name == "postgresql"
        db.session.commit()
        assert list(bulk.among(Case.key, [], probes=probes)) == []
    assert sorted(found) == sorted(wanted)
    # One array on PostgreSQL, unless the values are index probes (arrays of IN_CHUNK, so the
    # planner keeps to the index); IN lists of IN_CHUNK on SQLite.
    assert len(conditions) == (1 if postgresql and not probes else 3)
