"""The pull feed: a device's own changes after a cursor."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from server.core.extensions import db
from server.core.models import Change
from server.core.timeutil import isoformat_z


def pull(device_id: str, since: int, limit: int) -> dict[str, Any]:
    """Up to ``limit`` changes for ``device_id`` after cursor ``since``, oldest first."""
    rows = db.session.execute(
        select(Change)
        .where(Change.device_id == device_id, Change.id > since)
        .order_by(Change.id)
        .limit(limit + 1)  # one extra row answers "is there more?" without a count
    ).scalars().all()
    page = rows[:limit]
    db.session.commit()  # end the read transaction: no snapshot held between requests
    return {
        "changes": [
            {
                "cursor": change.id,
                "kind": change.kind,
                "record_id": change.record_id,
                "state": change.state,
                "reason": change.reason,
                "visit_id": change.visit_id,
                "at": isoformat_z(change.created_at),
            }
            for change in page
        ],
        "cursor": page[-1].id if page else since,
        "more": len(rows) > limit,
    }
