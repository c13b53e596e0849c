"""Record state transitions: the state, the device's pull feed and the audit chain, together.

Every service that changes an enrollment's state after it is complete goes through
:func:`move_records` inside its own transaction, so the three never disagree.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import update

from server.core import audit
from server.core.bulk import among, copy_rows
from server.core.extensions import db
from server.core.models import Change, Device, Enrollment
from server.core.models.base import table_of
from server.core.timeutil import utcnow
from shared.protocol import CLIENT_STATE_FOR_SERVER_STATE, ChangeKind

CHANGE_COLUMNS = ("device_id", "kind", "record_id", "state", "reason", "created_at")


@dataclass(frozen=True)
class Move:
    """Take record ``record_id`` (of ``device_id``) from ``from_state`` to ``to_state``."""

    record_id: str
    device_id: str
    from_state: str
    to_state: str
    reason: str | None = None


def move_records(
    moves: Sequence[Move],
    *,
    actor: str,
    action: str,
    case_id: int | None = None,
    detail: dict[str, Any] | None = None,
    at: dt.datetime | None = None,
) -> list[Move]:
    """Apply ``moves`` whose record is still in ``from_state``; return those that moved.

    A record whose state changed meanwhile (another reviewer, a concurrent check run) is left
    alone and missing from the result: the caller decides whether that is a conflict. The
    caller commits.
    """
    if not moves:
        return []
    at = at or utcnow()
    lock_devices({move.device_id for move in moves if device_sees(move)})
    groups: dict[tuple[str, str, str | None], list[Move]] = defaultdict(list)
    for move in moves:
        groups[(move.from_state, move.to_state, move.reason)].append(move)
    moved: list[Move] = []
    table = table_of(Enrollment)
    for (from_state, to_state, reason), group in groups.items():
        by_id = {move.record_id: move for move in group}
        # One statement for the whole group on PostgreSQL (= ANY of one array), IN lists of
        # 2,000 ids on SQLite.
        for wanted in among(table.c.id, sorted(by_id)):
            done = db.session.execute(
                update(table)
                # ``state || ''``: without statistics SQLite would rather walk the state index
                # (every complete record) once per chunk than look the ids up (measured: most
                # of a 130,000-record check run). PostgreSQL plans it the same either way.
                .where(wanted, table.c.state.concat("") == from_state)
                .values(state=to_state, state_reason=reason, state_changed_at=at)
                .returning(table.c.id)
            ).scalars().all()
            moved.extend(by_id[record_id] for record_id in done)
    moved.sort(key=lambda move: (move.device_id, move.record_id))
    copy_rows(table_of(Change), CHANGE_COLUMNS, [
        (move.device_id, ChangeKind.RECORD_STATUS.value, move.record_id, move.to_state,
         move.reason, at)
        for move in moved if device_sees(move)
    ])
    audit.append([
        audit.Event(actor=actor, action=action, record_id=move.record_id, case_id=case_id,
                    from_state=move.from_state, to_state=move.to_state, reason=move.reason,
                    detail=detail)
        for move in moved
    ], at=at)
    return moved


def device_sees(move: Move) -> bool:
    """Whether the field device would show ``move`` at all: only then is it a feed entry.

    The device shows ``complete`` for complete, verified and needs_review alike, so the checks'
    verdicts stay off the feed (the audit chain has them); a first check run over 130,000
    records writes no feed rows instead of 130,000 the devices would ignore.
    """
    return (CLIENT_STATE_FOR_SERVER_STATE.get(move.from_state)
            != CLIENT_STATE_FOR_SERVER_STATE.get(move.to_state))


def lock_devices(device_ids: set[str]) -> None:
    """Lock the devices' rows in one global order: the feed's writers all do (see Change)."""
    table = table_of(Device)
    for device_id in sorted(device_ids):
        db.session.execute(update(table).where(table.c.id == device_id)
                           .values(last_seq=table.c.last_seq))
