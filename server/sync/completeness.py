"""Records become ``complete`` once every file they name is held as a finished blob that
their own device sent (``server.sync.blobs``: another device's upload of the same file does not
count).

Two moments can complete a record, and together they never miss one:

- after a blob's row commits (:func:`complete_for_blob`): the received records naming it;
- after a push commits (:func:`complete_ready`): the batch's records still ``received``.

Why one of the two always catches a record whose last file lands while it is being pushed:
each check reads the database only after its own write committed. Let the blob commit at
``Cb``, the sweep after it read at ``Sb > Cb``; the push commit at ``Cp`` and its re-check read at
``Rp > Cp``. If ``Sb`` came after ``Cp``, the sweep sees the record. Otherwise ``Sb < Cp``, so
``Rp > Cp > Sb > Cb`` and the re-check sees the blob. Both may see it: the update is conditional
(``state = 'received'``) and only the rows it actually changed get a feed entry.

Records that became complete are then announced to the checks (:func:`check_completed`, a
signal review receives): a failure there leaves them complete, for ``jemput-server run-checks``
to decide later.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import ColumnElement, SQLColumnExpression, exists, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import aliased

from server.core.bulk import insert_rows
from server.core.errors import NotFound
from server.core.extensions import db
from server.core.models import Attachment, Change, Device, Enrollment
from server.core.models.base import table_of
from server.core.models.blob import BlobHolder
from server.core.timeutil import isoformat_z, utcnow
from server.sync import blobs, signals
from server.sync.transitions import CHANGE_COLUMNS
from shared.protocol import ChangeKind, ServerState

log = logging.getLogger(__name__)

RECEIVED, COMPLETE = ServerState.RECEIVED.value, ServerState.COMPLETE.value


def complete_for_blob(sha256: str) -> list[str]:
    """Complete the received records that name blob ``sha256`` and now have all their files."""
    naming = select(Attachment.enrollment_id).where(Attachment.sha256 == sha256)
    return _complete(_ready(Enrollment.id.in_(naming)))


def complete_after_upload(sha256: str, attempts: int = 3) -> list[str]:
    """:func:`complete_for_blob` for a blob that just landed, retried; never fails the upload.

    The blob is committed already: a lock timeout or a lost connection here must not turn
    the finished upload into an error, or the client (which sees offset == length on its next
    HEAD) would never ask again and the records would stay received. What still fails is left
    to the next push of those records and to ``jemput-server clean-uploads``.
    """
    for attempt in range(1, attempts + 1):
        try:
            return complete_for_blob(sha256)
        except SQLAlchemyError:
            db.session.rollback()
            log.warning("Completing records after blob %s failed (attempt %d)", sha256, attempt)
    return []


def complete_ready(enrollment_ids: Collection[str]) -> list[str]:
    """Complete those of ``enrollment_ids`` still received whose files are all held."""
    if not enrollment_ids:
        return []
    return _complete(_ready(Enrollment.id.in_(sorted(enrollment_ids))))


def complete_all_ready() -> list[str]:
    """Complete every received record whose files are all held (repair after a crash)."""
    return _complete(_ready(None))


def _ready(condition: ColumnElement[bool] | None) -> Sequence[Any]:
    """``(id, device_id)`` of received records matching ``condition`` with no file missing:
    each file sent by the record's own device (or its laptop's other registrations)."""
    named = aliased(Attachment)
    missing_file = select(named.sha256).where(
        named.enrollment_id == Enrollment.id, ~_held(named.sha256, blobs.laptop_links()))
    query = select(Enrollment.id, Enrollment.device_id).where(
        Enrollment.state == RECEIVED, ~exists(missing_file)
    )
    if condition is not None:
        query = query.where(condition)
    return db.session.execute(query).all()


def _held(sha256: SQLColumnExpression[str], links: list[tuple[str, str]]) -> ColumnElement[bool]:
    """SQL: the file ``sha256`` was sent by the device of the enclosing ``Enrollment``."""
    holder = aliased(BlobHolder)
    return exists(select(holder.sha256).where(
        holder.sha256 == sha256, blobs.held_by(holder.device_id, Enrollment.device_id, links),
    ).correlate_except(holder))


def _complete(rows: Sequence[Any]) -> list[str]:
    """Mark ``rows`` complete and tell their devices, in one transaction; return the ids done."""
    if not rows:
        db.session.commit()  # end the read transaction
        return []
    devices = sorted({row.device_id for row in rows})
    # Feed writers lock the owning device rows first, in one global order (see Change).
    for device_id in devices:
        db.session.execute(update(table_of(Device)).where(Device.id == device_id)
                           .values(last_seq=Device.last_seq))
    now = utcnow()
    done = db.session.execute(
        update(table_of(Enrollment))
        .where(Enrollment.id.in_(sorted(row.id for row in rows)), Enrollment.state == RECEIVED)
        .values(state=COMPLETE, state_changed_at=now)
        .returning(Enrollment.id, Enrollment.device_id)
    ).all()
    insert_rows(table_of(Change), CHANGE_COLUMNS, [
        (row.device_id, ChangeKind.RECORD_STATUS.value, row.id, COMPLETE, None, now)
        for row in sorted(done, key=lambda row: (row.device_id, row.id))
    ])
    db.session.commit()
    if done:
        log.info("%d record(s) complete: every file arrived", len(done))
    check_completed([row.id for row in done])
    return [row.id for row in done]


def check_completed(record_ids: Collection[str], pushed_by: str | None = None) -> None:
    """Announce records that just became complete (and a push's device) to the checks."""
    if not record_ids and pushed_by is None:
        return
    signals.announce(signals.records_completed, record_ids, pushed_by=pushed_by)


def incomplete_records(device_id: str | None = None) -> list[dict[str, Any]]:
    """Per device, its records still ``received`` and the files (role, sha256) they wait for."""
    if device_id is not None and db.session.get(Device, device_id) is None:
        raise NotFound(f"Perangkat {device_id} tidak ditemukan.")
    query = (
        select(Device.id.label("device_id"), Device.name, Device.team, Enrollment.id,
               Enrollment.seq, Enrollment.received_at, Attachment.role, Attachment.sha256)
        .join(Enrollment, Enrollment.device_id == Device.id)
        .join(Attachment, Attachment.enrollment_id == Enrollment.id)
        .where(Enrollment.state == RECEIVED, ~_held(Attachment.sha256, blobs.laptop_links()))
        .order_by(Device.name, Device.id, Enrollment.seq, Attachment.role)
    )
    if device_id is not None:
        query = query.where(Device.id == device_id)
    devices: dict[str, dict[str, Any]] = {}
    records: dict[str, dict[str, Any]] = {}
    for row in db.session.execute(query):
        device = devices.setdefault(row.device_id, {
            "device_id": row.device_id, "name": row.name, "team": row.team, "records": []})
        if row.id not in records:
            records[row.id] = {"id": row.id, "seq": row.seq,
                               "received_at": isoformat_z(row.received_at), "missing": []}
            device["records"].append(records[row.id])
        records[row.id]["missing"].append({"role": row.role, "sha256": row.sha256})
    db.session.commit()
    return list(devices.values())
