"""The pull feed: a device's own changes after a cursor.

Nothing of a resident travels in clear. An entry that sends a record back to the laptop (its
state in ``shared.protocol.RETURNED_STATES``) carries ``sealed``: the office's reason and the
record's data in a box under the device's data key (``shared.datakey.encrypt_json``, loaded with
``shared.schemas.ReturnedSchema``); every other entry has ``sealed: null``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select

from server.accounts.devices import device_data_key
from server.core.extensions import db
from server.core.models import Attachment, Change, Device, Enrollment
from server.core.timeutil import isoformat_z
from shared import datakey, vocab
from shared.protocol import RETURNED_STATES, ChangeKind
from shared.sealing import b64

_ROLE_ORDER = {role: index for index, role in enumerate(vocab.BIOMETRIC_ROLES)}


def pull(device: Device, since: int, limit: int) -> dict[str, Any]:
    """Up to ``limit`` changes for ``device`` after cursor ``since``, oldest first."""
    rows = db.session.execute(
        select(Change)
        .where(Change.device_id == device.id, Change.id > since)
        .order_by(Change.id)
        .limit(limit + 1)  # one extra row answers "is there more?" without a count
    ).scalars().all()
    page = rows[:limit]
    returned = [change for change in page if _returns_record(change)]
    sealed: dict[int, str] = {}
    if returned:
        data_key = device_data_key(device)  # unsealed once per pull, not once per entry
        records = returned_records(change.record_id for change in returned if change.record_id)
        for change in returned:
            sealed[change.id] = b64(datakey.encrypt_json(data_key, {
                "reason": change.reason, "record": records.get(str(change.record_id))}))
    db.session.commit()  # end the read transaction: no snapshot held between requests
    return {
        "changes": [
            {
                "cursor": change.id,
                "kind": change.kind,
                "record_id": change.record_id,
                "state": change.state,
                "sealed": sealed.get(change.id),
                "visit_id": change.visit_id,
                "at": isoformat_z(change.created_at),
            }
            for change in page
        ],
        "cursor": page[-1].id if page else since,
        "more": len(rows) > limit,
    }


def _returns_record(change: Change) -> bool:
    return change.kind == ChangeKind.RECORD_STATUS and change.state in RETURNED_STATES


def returned_records(record_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """What a returned record's box carries (``ReturnedRecordSchema``), by record id: its
    payload, its files (role, sha256, size, media_type) and its exceptions. Two queries."""
    ids = sorted(set(record_ids))
    if not ids:
        return {}
    found = {
        row.id: {"payload": row.payload, "attachments": [], "exceptions": row.exceptions or []}
        for row in db.session.execute(
            select(Enrollment.id, Enrollment.payload, Enrollment.exceptions)
            .where(Enrollment.id.in_(ids)))
    }
    files = db.session.execute(
        select(Attachment.enrollment_id, Attachment.role, Attachment.sha256, Attachment.size,
               Attachment.media_type)
        .where(Attachment.enrollment_id.in_(ids))
    ).all()
    for row in sorted(files, key=lambda r: (r.enrollment_id, _ROLE_ORDER.get(r.role, 99))):
        found[row.enrollment_id]["attachments"].append(
            {"role": row.role, "sha256": row.sha256, "size": row.size,
             "media_type": row.media_type})
    return found
