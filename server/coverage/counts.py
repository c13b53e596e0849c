"""Coverage counted live from the registry and the Jemput records (the full recount).

Residents are counted where the registry says they live (``resident.desa_kode``). A resident
SIAK already lists as recorded counts as ``recorded_siak`` only; otherwise a standing Jemput
record of the NIK (``wajib.RECORDING_STATES``) makes them ``recorded_jemput``, once, under the
most advanced state among their records. Definitions: ``server.registry.wajib``.

Both the live reports and the refresh of the stored summary (``summary``) count with these.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import ColumnElement, and_, case, func, select, true
from sqlalchemy.orm import QueryableAttribute

from server.core.extensions import db
from server.core.models import Enrollment, Resident
from server.core.models.region import DESA, KECAMATAN, PROVINCE, REGENCY
from server.registry.wajib import RECORDING_STATES, is_wajib, turns_17_within
from shared.protocol import ServerState

LEVEL_NAMES = {PROVINCE: "provinsi", REGENCY: "kabupaten", KECAMATAN: "kecamatan", DESA: "desa"}
#: A resident with several standing records counts under the furthest along (last wins).
PROGRESS = (ServerState.RECEIVED, ServerState.COMPLETE, ServerState.NEEDS_FIX,
            ServerState.NEEDS_REVIEW, ServerState.VERIFIED, ServerState.APPROVED,
            ServerState.SUKET_ISSUED, ServerState.PRINTED)
RANK = {state.value: rank for rank, state in enumerate(PROGRESS)}
assert set(RANK) == set(RECORDING_STATES), "every recording state needs a place in PROGRESS"
HUNDRED = Decimal(100)
CENT = Decimal("0.01")


def share(part: int, whole: int) -> Decimal | None:
    """``part`` of ``whole`` in percent to 2 decimals, half up (86.25); None when whole is 0."""
    if not whole:
        return None
    return (HUNDRED * part / whole).quantize(CENT, ROUND_HALF_UP)


@dataclass
class CoverageRow:
    """The figures of one region at the reference date."""

    kode: str
    nama: str
    level: str
    wajib: int = 0
    recorded_siak: int = 0
    recorded_jemput: int = 0
    jemput_by_state: dict[str, int] = field(default_factory=dict)
    turning_17: int = 0

    @property
    def recorded(self) -> int:
        """Recorded in SIAK or through Jemput."""
        return self.recorded_siak + self.recorded_jemput

    @property
    def not_recorded(self) -> int:
        """Wajib KTP and recorded nowhere yet."""
        return self.wajib - self.recorded

    @property
    def percent(self) -> Decimal | None:
        """Recorded per wajib KTP, in percent to 2 decimals (half up); None without wajib."""
        return share(self.recorded, self.wajib)

    def add(self, other: CoverageRow) -> None:
        """Add another region's counts to this one (a desa to its kecamatan)."""
        self.wajib += other.wajib
        self.recorded_siak += other.recorded_siak
        self.recorded_jemput += other.recorded_jemput
        self.turning_17 += other.turning_17
        for state, count in other.jemput_by_state.items():
            self.jemput_by_state[state] = self.jemput_by_state.get(state, 0) + count

    def as_dict(self) -> dict[str, object]:
        """Plain JSON-able values (percent as a number with 2 decimals, or null)."""
        percent = self.percent
        return {"kode": self.kode, "nama": self.nama, "level": self.level, "wajib": self.wajib,
                "recorded_siak": self.recorded_siak, "recorded_jemput": self.recorded_jemput,
                "jemput_by_state": dict(sorted(self.jemput_by_state.items())),
                "recorded": self.recorded, "not_recorded": self.not_recorded,
                "percent": None if percent is None else float(percent),
                "turning_17": self.turning_17}


def under(column: QueryableAttribute[str], code: str) -> ColumnElement[bool]:
    """``column`` is a code beneath ``code`` (an index range, not a LIKE); a desa: itself."""
    if code.count(".") == 3:
        return column == code
    return and_(column > code + ".", column < code + "/")  # '/' sorts right after '.'


def desa_row(kode: str) -> CoverageRow:
    """An empty row of desa ``kode`` (named by its code until the region table names it)."""
    return CoverageRow(kode, kode, LEVEL_NAMES[DESA])


def desa_counts(at: dt.date, code: str | None) -> dict[str, CoverageRow]:
    """Counts per desa code of the residents under ``code`` (one scan, one small join)."""
    wajib = is_wajib(at)
    scope = true() if code is None else under(Resident.desa_kode, code)
    query = (select(Resident.desa_kode,
                    func.sum(case((wajib, 1), else_=0)),
                    func.sum(case((and_(wajib, Resident.recorded), 1), else_=0)),
                    func.sum(case((turns_17_within(at), 1), else_=0)))
             .where(scope).group_by(Resident.desa_kode))
    rows = {kode: CoverageRow(kode, kode, LEVEL_NAMES[DESA], int(w or 0), int(s or 0),
                              turning_17=int(t or 0))
            for kode, w, s, t in db.session.execute(query)}
    best: dict[str, tuple[str, str]] = {}  # nik -> (desa, state)
    jemput = (select(Resident.desa_kode, Enrollment.nik, Enrollment.state)
              .join(Resident, Resident.nik == Enrollment.nik)
              .where(Enrollment.state.in_(RECORDING_STATES), Resident.recorded.is_(False),
                     wajib, scope))
    for desa, nik, state in db.session.execute(jemput):
        if nik not in best or RANK[state] > RANK[best[nik][1]]:
            best[nik] = (desa, state)
    by_desa: dict[str, Counter[str]] = defaultdict(Counter)
    for desa, state in best.values():
        by_desa[desa][state] += 1
    for desa, states in by_desa.items():
        rows[desa].recorded_jemput = sum(states.values())
        rows[desa].jemput_by_state = dict(states)
    return rows


def first_arrivals(today: dt.date, since: dt.datetime, code: str | None = None,
                   ) -> list[tuple[str, dt.datetime]]:
    """(desa, first arrival) of each wajib resident SIAK does not list as recorded whose first
    standing Jemput record arrived at or after ``since`` (the trend's input)."""
    scope = true() if code is None else under(Resident.desa_kode, code)
    arrived = func.min(Enrollment.received_at)
    query = (select(Resident.desa_kode, arrived)
             .join(Resident, Resident.nik == Enrollment.nik)
             .where(Enrollment.state.in_(RECORDING_STATES), Resident.recorded.is_(False),
                    is_wajib(today), scope)
             .group_by(Enrollment.nik, Resident.desa_kode)
             .having(arrived >= since))
    return [(desa, moment) for desa, moment in db.session.execute(query)]
