"""The pull feed: what each device needs to hear, in cursor order."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from server.core.models.base import Base
from server.core.models.types import BigId


class Change(Base):
    """One feed entry; its autoincrement ``id`` is the device's pull cursor.

    Whoever writes a device's changes updates (locks) its ``device`` row first in the same
    transaction, as the ingest does: ids are then handed out in commit order per device, so a
    pull that has seen cursor N can never later miss an entry below N.
    """

    __tablename__ = "change"
    # Pull reads "this device, after cursor N, in order": one index serves it whole.
    # AUTOINCREMENT on SQLite: ids of deleted newest rows are never handed out again, so a
    # cursor a device already holds can never point past a new entry.
    __table_args__ = (
        Index("ix_change_device_id_id", "device_id", "id"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("device.id"))
    kind: Mapped[str] = mapped_column(String(32))
    record_id: Mapped[str | None] = mapped_column(String(36))
    state: Mapped[str | None] = mapped_column(String(20))
    #: The outreach visit an ``outreach_assigned`` / ``outreach_closed`` entry is about.
    visit_id: Mapped[str | None] = mapped_column(String(36))
    reason: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[dt.datetime]
