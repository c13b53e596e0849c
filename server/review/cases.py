"""Cases as the checks keep them: open a finding once, clear one that vanished.

A case's ``key`` (kind + subject + hash of its record ids) is unique: two check runs racing on
the same finding insert it once (``ON CONFLICT DO NOTHING``). A case a person resolved is never
reopened for the same key; one the system cleared is reopened when its finding comes back (a
third record that made a duplicate pair a triple was rejected, say).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Table, select, update
from sqlalchemy.dialects import postgresql, sqlite

from server.core import audit
from server.core.bulk import among
from server.core.extensions import db
from server.core.models import Case, CaseRecord, Enrollment
from server.core.models.base import table_of
from server.core.models.case import OPEN, RESOLVED
from server.review.findings import Finding
from shared.protocol import CaseKind, CaseResolution

CHUNK = 2000
MAX_EXPLANATION = 2000
CLEARED = CaseResolution.CLEARED.value
GONE = "Pemeriksaan ulang tidak lagi menemukan masalah ini."
SETTLED = "Semua rekaman kasus ini sudah diputuskan."


@dataclass
class OpenCase:
    """An open case with its records and their current states."""

    id: int
    kind: str
    key: str
    device_id: str | None
    records: dict[str, str] = field(default_factory=dict)  # record id -> state


@dataclass
class Applied:
    """What :func:`apply` changed; ``events`` go to the audit chain after the record moves."""

    opened: int = 0
    reopened: int = 0
    cleared: int = 0
    records: set[str] = field(default_factory=set)  # records of the cases it touched
    events: list[audit.Event] = field(default_factory=list)


def chunks(items: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    """``items`` in slices of ``size``."""
    for start in range(0, len(items), size):
        yield items[start:start + size]


def open_cases(record_ids: Collection[str] | None, device_ids: Collection[str] | None) -> (
        dict[int, OpenCase]):
    """Open cases naming any of ``record_ids`` or gaps of ``device_ids`` (all when None)."""
    query = select(Case.id, Case.kind, Case.key, Case.device_id).where(
        Case.state == OPEN if record_ids is None else _is_open())
    found: dict[int, OpenCase] = {}
    if record_ids is None:
        rows: list[Any] = list(db.session.execute(query))
    else:
        rows = []
        for named_any in among(CaseRecord.enrollment_id, sorted(record_ids)):
            named = select(CaseRecord.case_id).where(named_any)
            rows.extend(db.session.execute(query.where(Case.id.in_(named))))
        if device_ids:
            rows.extend(db.session.execute(query.where(
                Case.kind == CaseKind.SEQUENCE_GAP, Case.device_id.in_(sorted(device_ids)))))
    for row in rows:
        found[row.id] = OpenCase(row.id, row.kind, row.key, row.device_id)
    _fill_records(found)
    return found


def _is_open() -> ColumnElement[bool]:
    """``state = 'open'`` that SQLite will not answer by walking every open case first.

    Without statistics SQLite guesses the state index is selective; looking a few records'
    cases up by id is what is wanted (PostgreSQL plans it the same either way).
    """
    return Case.state.concat("") == OPEN


def _fill_records(found: dict[int, OpenCase]) -> None:
    """Attach each open case's records and their states."""
    query = (select(CaseRecord.case_id, CaseRecord.enrollment_id, Enrollment.state)
             .join(Enrollment, Enrollment.id == CaseRecord.enrollment_id)
             .join(Case, Case.id == CaseRecord.case_id).where(_is_open()))
    for condition in among(CaseRecord.case_id, sorted(found)):
        for row in db.session.execute(query.where(condition)):
            found[row.case_id].records[row.enrollment_id] = row.state


def apply(findings: Sequence[Finding], to_clear: Sequence[OpenCase], now: dt.datetime) -> Applied:
    """Open new findings, reopen system-cleared ones, clear ``to_clear``; no record moves."""
    result = Applied()
    existing = _existing(sorted({f.key for f in findings}))
    new = [f for f in findings if f.key not in existing]
    _insert(new, now)
    result.opened = len(new)
    for finding in new:
        result.records.update(finding.record_ids)
    for finding in findings:
        known = existing.get(finding.key)
        if known is not None and _reopen(known, finding):
            result.reopened += 1
            result.records.update(finding.record_ids)
            result.events.append(audit.Event(actor=audit.SYSTEM, action="case_reopened",
                                             case_id=known.id, detail={"kind": finding.kind}))
    _clear(to_clear, now, result)
    return result


def _existing(keys: list[str]) -> dict[str, Any]:
    """Cases already holding any of ``keys`` (open or resolved), by key."""
    found: dict[str, Any] = {}
    query = select(Case.id, Case.key, Case.state, Case.resolution, Case.explanation)
    for condition in among(Case.key, keys):
        for row in db.session.execute(query.where(condition)):
            found[row.key] = row
    return found


def _insert(new: list[Finding], now: dt.datetime) -> None:
    """Insert the cases and their record links, ignoring ones a concurrent run just made."""
    _insert_ignore(table_of(Case), ["key"], [
        {"kind": f.kind, "key": f.key, "state": OPEN,
         "explanation": f.explanation[:MAX_EXPLANATION], "desa_kode": f.desa_kode,
         "team": f.team, "device_id": f.device_id, "opened_at": now,
         "version": 1}
        for f in new
    ])
    ids = {key: row.id for key, row in _existing([f.key for f in new]).items()}
    _insert_ignore(table_of(CaseRecord), ["case_id", "enrollment_id"], [
        {"case_id": ids[f.key], "enrollment_id": record_id, "position": position}
        for f in new for position, record_id in enumerate(f.record_ids)
    ])


def _insert_ignore(table: Table, conflict: list[str], rows: list[dict[str, Any]]) -> None:
    """``INSERT ... ON CONFLICT DO NOTHING`` for many rows (SQLite and PostgreSQL)."""
    if not rows:
        return
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    for part in chunks(rows):
        db.session.execute(insert(table).on_conflict_do_nothing(index_elements=conflict),
                           list(part))


def _reopen(known: Any, finding: Finding) -> bool:
    """Reopen a case the system cleared, or refresh an open one's explanation; True if reopened."""
    explanation = finding.explanation[:MAX_EXPLANATION]
    table = table_of(Case)
    if known.state == OPEN:
        if known.explanation != explanation:
            db.session.execute(update(table).where(table.c.id == known.id, table.c.state == OPEN)
                               .values(explanation=explanation, version=table.c.version + 1))
        return False
    if known.resolution != CLEARED:
        return False  # a person decided it: never reopened for the same finding
    done = db.session.execute(
        update(table)
        .where(table.c.id == known.id, table.c.state == RESOLVED, table.c.resolution == CLEARED)
        .values(state=OPEN, resolution=None, resolved_at=None, resolved_by=None,
                resolution_reason=None, explanation=explanation, version=table.c.version + 1)
    ).rowcount  # type: ignore[attr-defined]
    return bool(done)


def _clear(to_clear: Sequence[OpenCase], now: dt.datetime, result: Applied) -> None:
    """Resolve ``to_clear`` as ``cleared`` by the system (those still open)."""
    table = table_of(Case)
    by_id = {case.id: case for case in to_clear}
    for condition in among(table.c.id, sorted(by_id)):
        done = db.session.execute(
            update(table).where(condition, table.c.state == OPEN)
            .values(state=RESOLVED, resolution=CLEARED, resolved_by=audit.SYSTEM,
                    resolved_at=now, version=table.c.version + 1)
            .returning(table.c.id)
        ).scalars().all()
        for case_id in sorted(done):
            case = by_id[case_id]
            settled = bool(case.records) and not set(case.records.values()) - TERMINAL
            result.cleared += 1
            result.records.update(case.records)
            result.events.append(audit.Event(
                actor=audit.SYSTEM, action="case_cleared", case_id=case_id,
                reason=SETTLED if settled else GONE, detail={"kind": case.kind}))


#: Record states after which a case about the record has nothing left to decide.
TERMINAL = frozenset({"approved", "rejected", "duplicate", "superseded", "printed",
                      "suket_issued"})


def open_kinds(record_ids: Collection[str] | None) -> dict[str, set[str]]:
    """The kinds of open cases naming each of ``record_ids`` (every record when None)."""
    query = (select(CaseRecord.enrollment_id, Case.kind)
             .join(Case, Case.id == CaseRecord.case_id)
             .where(Case.state == OPEN if record_ids is None else _is_open()))
    kinds: dict[str, set[str]] = {}
    scopes = [query] if record_ids is None else [
        query.where(condition)
        for condition in among(CaseRecord.enrollment_id, sorted(record_ids))]
    for scoped in scopes:
        for row in db.session.execute(scoped):
            kinds.setdefault(row.enrollment_id, set()).add(row.kind)
    return kinds
