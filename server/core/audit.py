"""The audit chain: append events inside the caller's transaction, verify the whole chain.

Each event's ``hash`` is ``sha256(prev_hash + canonical JSON of the event)``. Writers lock the
single ``audit_head`` row first, so ids are handed out without holes and in commit order on
every backend, and two transactions can never both chain onto the same predecessor.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from server.core.bulk import copy_rows
from server.core.extensions import db
from server.core.models import AuditEvent, AuditHead
from server.core.models.audit import GENESIS_HASH
from server.core.models.base import table_of
from server.core.timeutil import isoformat_z, utcnow

HEAD_ID = 1
# shared.canonical's encoding, with the encoder built once (a check run chains 100,000+ events).
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
SYSTEM = "system"
COLUMNS = ("id", "at", "actor", "action", "record_id", "case_id", "from_state", "to_state",
           "reason", "detail", "prev_hash", "hash")


@dataclass(frozen=True)
class Event:
    """One thing that happened, before it is chained."""

    actor: str
    action: str
    record_id: str | None = None
    case_id: int | None = None
    from_state: str | None = None
    to_state: str | None = None
    reason: str | None = None
    detail: dict[str, Any] | None = None


def append(events: Sequence[Event], at: dt.datetime | None = None) -> None:
    """Chain ``events`` onto the log; call inside the transaction that made the change."""
    if not events:
        return
    at = at or utcnow()
    last_id, last_hash = _lock_head()
    at_text = isoformat_z(at)  # one timestamp for the whole batch: format it once
    rows: list[tuple[Any, ...]] = []
    for event in events:
        last_id += 1
        digest = event_hash(last_hash, last_id, at_text, event)
        rows.append((last_id, at, event.actor, event.action, event.record_id, event.case_id,
                     event.from_state, event.to_state, event.reason, event.detail,
                     last_hash, digest))
        last_hash = digest
    copy_rows(table_of(AuditEvent), COLUMNS, rows)
    db.session.execute(update(table_of(AuditHead)).where(AuditHead.id == HEAD_ID)
                       .values(last_id=last_id, last_hash=last_hash))


def event_hash(prev_hash: str, event_id: int, at: dt.datetime | str, event: Event) -> str:
    """The chained SHA-256 of one event (``at`` as a datetime or already as ISO 8601 Z text)."""
    body = {
        "id": event_id, "at": at if isinstance(at, str) else isoformat_z(at),
        "actor": event.actor, "action": event.action,
        "record_id": event.record_id, "case_id": event.case_id,
        "from_state": event.from_state, "to_state": event.to_state, "reason": event.reason,
        "detail": event.detail,
    }
    return hashlib.sha256(prev_hash.encode() + _CANONICAL.encode(body).encode()).hexdigest()


def _lock_head() -> tuple[int, str]:
    """Lock the head row (creating it on an empty log) and return the chain's end."""
    table = table_of(AuditHead)
    for _ in range(3):
        # A no-op UPDATE takes the row lock on PostgreSQL and the write lock on SQLite.
        locked = db.session.execute(
            update(table).where(table.c.id == HEAD_ID).values(last_id=table.c.last_id)
        ).rowcount  # type: ignore[attr-defined]
        if locked:
            head = db.session.execute(
                select(AuditHead.last_id, AuditHead.last_hash).where(AuditHead.id == HEAD_ID)
            ).one()
            return int(head.last_id), str(head.last_hash)
        try:
            with db.session.begin_nested():
                db.session.execute(table.insert().values(id=HEAD_ID, last_id=0,
                                                         last_hash=GENESIS_HASH))
        except IntegrityError:
            continue  # another writer created it first: lock theirs
    raise RuntimeError("audit_head could not be locked")


@dataclass
class ChainReport:
    """What :func:`verify_chain` found."""

    checked: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every event and the head agree."""
        return not self.problems


def verify_chain(batch: int = 10_000,
                 anchored: dict[int, list[str]] | None = None) -> ChainReport:
    """Recompute every hash in id order; report holes, edits and a head that does not match,
    and, for each ``anchored`` event id (from signed anchors kept outside the database), an
    event whose hash is not the anchored one: the chain was rewritten since."""
    report = ChainReport()
    wanted = dict(anchored or {})
    wanted.pop(0, None)  # anchored before any event: nothing to compare
    prev_id, prev_hash = 0, GENESIS_HASH
    for row in _events_in_order(batch):
        report.checked += 1
        if row.id != prev_id + 1:
            report.problems.append(f"peristiwa {prev_id + 1}..{row.id - 1} hilang")
        if row.prev_hash != prev_hash:
            report.problems.append(f"peristiwa {row.id}: prev_hash tidak menyambung")
        event = Event(row.actor, row.action, row.record_id, row.case_id, row.from_state,
                      row.to_state, row.reason, row.detail)
        if event_hash(row.prev_hash, row.id, row.at, event) != row.hash:
            report.problems.append(f"peristiwa {row.id}: isi tidak cocok dengan hash-nya")
        for expected in wanted.pop(row.id, []):
            if row.hash != expected:
                report.problems.append(
                    f"peristiwa {row.id}: hash berbeda dengan jangkar bertanda tangan "
                    "(rantai ditulis ulang sejak jangkar dibuat)")
        prev_id, prev_hash = row.id, row.hash
    for event_id in sorted(wanted):
        report.problems.append(f"peristiwa {event_id} yang dijangkarkan tidak ada lagi")
    head = db.session.execute(select(AuditHead).where(AuditHead.id == HEAD_ID)).scalar()
    if head is not None and (head.last_id, head.last_hash) != (prev_id, prev_hash):
        report.problems.append(
            f"ujung rantai tercatat {head.last_id}, tetapi peristiwa terakhir {prev_id}"
        )
    db.session.commit()
    return report


def _events_in_order(batch: int) -> Iterator[Any]:
    """Every event by id, read in keyset pages so memory stays flat on a long log."""
    after = 0
    while True:
        rows = db.session.execute(
            select(*[table_of(AuditEvent).c[name] for name in COLUMNS])
            .where(AuditEvent.id > after).order_by(AuditEvent.id).limit(batch)
        ).all()
        if not rows:
            return
        yield from rows
        after = rows[-1].id


def events_for_record(record_id: str) -> list[AuditEvent]:
    """The audit trail of one record, oldest first."""
    events = list(db.session.execute(
        select(AuditEvent).where(AuditEvent.record_id == record_id).order_by(AuditEvent.id)
    ).scalars())
    db.session.commit()
    return events
