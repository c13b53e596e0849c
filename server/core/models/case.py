"""Reconciliation cases: a finding of the checks, the records it names, and how it ended."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Integer, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from server.core.models.base import Base

OPEN, RESOLVED = "open", "resolved"


class Case(Base):
    """One finding to look at; ``key`` makes re-running the checks open it only once."""

    __tablename__ = "case"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), index=True)
    # kind + what it is about + the records involved: a finding seen again is the same case.
    key: Mapped[str] = mapped_column(String(200), unique=True)
    state: Mapped[str] = mapped_column(String(16), index=True)
    explanation: Mapped[str] = mapped_column(String(2000))
    # Where and whose, copied from the first record (or the device) for the queue's filters.
    desa_kode: Mapped[str | None] = mapped_column(String(13), index=True)
    team: Mapped[str | None] = mapped_column(String(80))
    device_id: Mapped[str | None] = mapped_column(ForeignKey("device.id"))
    opened_at: Mapped[dt.datetime]
    resolved_at: Mapped[dt.datetime | None]
    resolved_by: Mapped[str | None] = mapped_column(String(64))
    resolution: Mapped[str | None] = mapped_column(String(20))
    resolution_reason: Mapped[str | None] = mapped_column(String(500))
    # Bumped on every change: a reviewer acting on a stale page gets a conflict, not a lost update.
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")


class CaseRecord(Base):
    """A record a case names, in the order the finding lists them."""

    __tablename__ = "case_record"

    case_id: Mapped[int] = mapped_column(ForeignKey("case.id", ondelete="CASCADE"),
                                         primary_key=True)
    enrollment_id: Mapped[str] = mapped_column(ForeignKey("enrollment.id"), primary_key=True,
                                               index=True)
    position: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")
