"""Jemput-bola outreach: a team's visit to one desa and the residents it should record there."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, ForeignKey, Index, Integer, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from server.core.models.base import Base

#: Visit states: planned (the target list is on the device), closed (done; the list is gone
#: from the device), cancelled (never happened; the list is gone too).
PLANNED, CLOSED, CANCELLED = "planned", "closed", "cancelled"
VISIT_STATES = (PLANNED, CLOSED, CANCELLED)


class OutreachVisit(Base):
    """One planned outreach visit: a desa, dates, the team and the device that goes there."""

    __tablename__ = "outreach_visit"
    __table_args__ = (
        Index("ix_outreach_visit_desa_kode_visit_date", "desa_kode", "visit_date"),
        Index("ix_outreach_visit_device_id", "device_id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    desa_kode: Mapped[str] = mapped_column(ForeignKey("region.kode"))
    visit_date: Mapped[dt.date] = mapped_column(Date)
    #: How many days the team stays (1 = a day trip); the visit ends on visit_date + days - 1.
    days: Mapped[int] = mapped_column(SmallInteger, default=1)
    team: Mapped[str] = mapped_column(String(120))
    device_id: Mapped[str] = mapped_column(ForeignKey("device.id"))
    state: Mapped[str] = mapped_column(String(16), default=PLANNED)
    #: Size of the target list when the visit was planned (the list itself: outreach_target).
    target_count: Mapped[int] = mapped_column(Integer, default=0)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime]
    closed_at: Mapped[dt.datetime | None]


class OutreachTarget(Base):
    """A resident on a visit's target list: wajib KTP, not recorded when the visit was planned."""

    __tablename__ = "outreach_target"

    visit_id: Mapped[str] = mapped_column(
        ForeignKey("outreach_visit.id", ondelete="CASCADE"), primary_key=True
    )
    nik: Mapped[str] = mapped_column(String(16), primary_key=True)
