"""The coverage summary: per-desa figures at one reference date, refreshed by a background job.

Coverage at province scale (millions of residents) is too slow to recount on every page view,
so the ``refresh_coverage`` job (``server.coverage.summary``) writes these tables in one
transaction; the office pages read them while they hold the date asked for. Also the indexes
that tell cheaply whether the summary is behind the data (the newest state change, the newest
registry write) and those the office lists need at a million records.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, Index, Integer, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from server.core.models.base import Base
from server.core.models.case import Case
from server.core.models.enrollment import Enrollment
from server.core.models.resident import Resident

#: The one row of :class:`CoverageRefresh`.
SUMMARY_ID = 1


class CoverageRegion(Base):
    """One region's figures at :attr:`CoverageRefresh.at`: every desa with residents, and the
    sums of their kecamatan and kabupaten (a page reads its rows, it adds nothing up)."""

    __tablename__ = "coverage_region"

    kode: Mapped[str] = mapped_column(String(13), primary_key=True)
    #: ``server.core.models.region``: 2 kabupaten, 3 kecamatan, 4 desa.
    level: Mapped[int] = mapped_column(SmallInteger)
    wajib: Mapped[int] = mapped_column(Integer)
    recorded_siak: Mapped[int] = mapped_column(Integer)
    turning_17: Mapped[int] = mapped_column(Integer)
    # Wajib residents recorded through Jemput only, per the furthest state of their records
    # (``server.coverage.counts.PROGRESS``).
    jemput_received: Mapped[int] = mapped_column(Integer)
    jemput_complete: Mapped[int] = mapped_column(Integer)
    jemput_needs_fix: Mapped[int] = mapped_column(Integer)
    jemput_needs_review: Mapped[int] = mapped_column(Integer)
    jemput_verified: Mapped[int] = mapped_column(Integer)
    jemput_approved: Mapped[int] = mapped_column(Integer)
    jemput_suket_issued: Mapped[int] = mapped_column(Integer)
    jemput_printed: Mapped[int] = mapped_column(Integer)


class CoverageArrival(Base):
    """New recordings through Jemput on one office day under one region (the trend chart):
    every desa, kecamatan and kabupaten, and ``""`` for everything."""

    __tablename__ = "coverage_arrival"

    kode: Mapped[str] = mapped_column(String(13), primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    records: Mapped[int] = mapped_column(Integer)


class CoverageRefresh(Base):
    """What the summary holds: the date it is for, when it was computed, what it had seen."""

    __tablename__ = "coverage_refresh"

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    #: The reference date of every figure in the summary (the office day of the refresh).
    at: Mapped[dt.date] = mapped_column(Date)
    computed_at: Mapped[dt.datetime]
    #: The newest ``enrollment.state_changed_at`` and ``resident.updated_at`` the refresh saw:
    #: anything newer means the summary is behind.
    records_seen: Mapped[dt.datetime | None]
    residents_seen: Mapped[dt.datetime | None]
    #: How long the refresh took (for the office page and the benchmarks).
    milliseconds: Mapped[int] = mapped_column(Integer)


# Is the summary behind? max() of these two columns is one index probe each.
Index("ix_enrollment_state_changed_at", Enrollment.state_changed_at)
Index("ix_resident_updated_at", Resident.updated_at)
# The dashboard at a million records: records waiting for files per device, and open cases per
# kind, each an index-only scan of the few rows asked for.
Index("ix_enrollment_state_device_id", Enrollment.state, Enrollment.device_id)
Index("ix_case_state_kind", Case.state, Case.kind)
# The review queue's open cases in id order, and the records they name.
Index("ix_case_state_id", Case.state, Case.id)
