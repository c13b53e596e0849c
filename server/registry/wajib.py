"""Who must hold an e-KTP (wajib KTP) and who counts as recorded: one definition for all reports.

Wajib KTP: aged 17 or older at the reference date, or married / ever married (design: domain
facts). Recorded: SIAK already says so (``resident.recorded``), or Jemput holds a record of the
NIK that still stands (not rejected, not a duplicate, not replaced by a correction).
Coverage, the outreach ranking and the target lists all use these expressions.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, or_, select

from server.core.models import Enrollment, Resident
from shared.protocol import ServerState

ADULT_AGE = 17
EVER_MARRIED = ("KAWIN", "CERAI HIDUP", "CERAI MATI")
#: Jemput record states that do not make a resident recorded.
NOT_RECORDING = (ServerState.REJECTED, ServerState.DUPLICATE, ServerState.SUPERSEDED)
RECORDING_STATES = tuple(s.value for s in ServerState if s not in NOT_RECORDING)


def years_before(day: dt.date, years: int) -> dt.date:
    """``day`` moved back ``years`` years; 29 February becomes 28 February in other years."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def add_months(day: dt.date, months: int) -> dt.date:
    """``day`` plus ``months`` calendar months, clamped to the last day of the target month."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return dt.date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise AssertionError("unreachable")


def adult_cutoff(at: dt.date) -> dt.date:
    """Residents born on or before this day are 17 or older on ``at``."""
    return years_before(at, ADULT_AGE)


def is_wajib(at: dt.date) -> ColumnElement[bool]:
    """``Resident`` rows that must hold an e-KTP on ``at``."""
    return or_(Resident.tanggal_lahir <= adult_cutoff(at),
               Resident.status_perkawinan.in_(EVER_MARRIED))


def turns_17_within(at: dt.date, months: int = 3) -> ColumnElement[bool]:
    """Not yet wajib on ``at`` but 17 within ``months`` months: next months' workload."""
    return and_(Resident.tanggal_lahir > adult_cutoff(at),
                Resident.tanggal_lahir <= adult_cutoff(add_months(at, months)),
                or_(Resident.status_perkawinan.is_(None),
                    Resident.status_perkawinan.not_in(EVER_MARRIED)))


def recorded_in_jemput() -> Select[Any]:
    """NIKs with a Jemput record that counts as a recording."""
    return select(Enrollment.nik).where(Enrollment.state.in_(RECORDING_STATES))


def is_unrecorded() -> ColumnElement[bool]:
    """``Resident`` rows recorded neither in SIAK nor through Jemput."""
    return and_(Resident.recorded.is_(False), Resident.nik.not_in(recorded_in_jemput()))
