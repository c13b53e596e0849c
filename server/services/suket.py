"""The Surat Keterangan pengganti KTP-el (Suket): issue, renew, supersede, verify.

A Suket stands in for the card while no blank is available. It is ``valid`` until the card is
printed (then ``superseded``, by :func:`supersede_for_print` inside the print transaction);
"expired" is never stored: it follows from ``expires_on`` and the office day.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import update

from server.extensions import db
from server.models import Suket
from server.models.base import table_of
from server.models.blanko import SUKET_SUPERSEDED, SUKET_VALID
from server.services import audit

SUPERSEDED_ACTION = "suket_superseded"


def supersede_for_print(record_id: str, print_job_id: int, at: dt.datetime, *,
                        actor: str = audit.SYSTEM) -> int:
    """Mark the record's valid Sukets superseded by print job ``print_job_id``; how many.

    Called inside the print transaction (the caller commits): a Suket past its expiry date is
    still stored ``valid`` and is superseded too. One ``suket_superseded`` audit event each.
    """
    table = table_of(Suket)
    rows = sorted(db.session.execute(
        update(table).where(table.c.enrollment_id == record_id, table.c.state == SUKET_VALID)
        .values(state=SUKET_SUPERSEDED, superseded_at=at, print_job_id=print_job_id)
        .returning(table.c.id, table.c.number)
    ).all())
    if not rows:
        return 0
    audit.append([
        audit.Event(actor=actor, action=SUPERSEDED_ACTION, record_id=record_id,
                    from_state=SUKET_VALID, to_state=SUKET_SUPERSEDED,
                    detail={"suket_id": row.id, "number": row.number,
                            "print_job_id": print_job_id})
        for row in rows
    ], at=at)
    return len(rows)
