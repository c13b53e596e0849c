"""Coverage: who must hold an e-KTP and who is recorded, per regency, kecamatan and desa.

Residents are counted where the registry says they live (``resident.desa_kode``). A resident
SIAK already lists as recorded counts as ``recorded_siak`` only; otherwise a standing Jemput
record of the NIK (``wajib.RECORDING_STATES``) makes them ``recorded_jemput``, once, under the
most advanced state among their records. Definitions: ``server.registry.wajib``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import ColumnElement, and_, case, func, or_, select, true
from sqlalchemy.orm import QueryableAttribute

from server.core.errors import InvalidInput, NotFound
from server.core.extensions import db
from server.core.models import Enrollment, Region, Resident
from server.core.models.region import DESA, KECAMATAN, REGENCY
from server.core.timeutil import as_utc, office_day_start, office_today, office_zone
from server.registry.wajib import RECORDING_STATES, is_wajib, turns_17_within
from shared.protocol import ServerState

REGION_CODE = re.compile(r"^[0-9]{2}(\.[0-9]{2}(\.[0-9]{2}(\.[0-9]{4})?)?)?$")
LEVEL_NAMES = {REGENCY: "kabupaten", KECAMATAN: "kecamatan", DESA: "desa"}
#: A resident with several standing records counts under the furthest along (last wins).
PROGRESS = (ServerState.RECEIVED, ServerState.COMPLETE, ServerState.NEEDS_FIX,
            ServerState.NEEDS_REVIEW, ServerState.VERIFIED, ServerState.APPROVED,
            ServerState.SUKET_ISSUED, ServerState.PRINTED)
RANK = {state.value: rank for rank, state in enumerate(PROGRESS)}
assert set(RANK) == set(RECORDING_STATES), "every recording state needs a place in PROGRESS"
MAX_TREND_DAYS = 366
#: The years a report may be for (ages are counted back from the date, 0001 would overflow).
REPORT_YEARS = (1900, 2999)
#: Days of arrivals the coverage page shows, and the API by default.
DEFAULT_TREND_DAYS = 30
ISO_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
CSV_COLUMNS = ("kode", "nama", "level", "wajib", "recorded_siak", "recorded_jemput", "recorded",
               "not_recorded", "percent", "turning_17",
               *(f"jemput_{state.value}" for state in PROGRESS))
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


@dataclass(frozen=True)
class CoverageReport:
    """Rows at ``at``: regency first, then each kecamatan followed by its desa."""

    at: dt.date
    region: str | None
    rows: list[CoverageRow]

    @property
    def top(self) -> CoverageRow | None:
        """The first (widest) row: the regency, or the region asked for."""
        return self.rows[0] if self.rows else None

    @property
    def kecamatan(self) -> list[CoverageRow]:
        """The kecamatan rows, for the bar chart."""
        return [row for row in self.rows if row.level == LEVEL_NAMES[KECAMATAN]]

    @property
    def groups(self) -> list[tuple[CoverageRow | None, list[CoverageRow]]]:
        """Each kecamatan with its desa rows (the map-like grid); a lone desa has no kecamatan."""
        groups: list[tuple[CoverageRow | None, list[CoverageRow]]] = []
        for row in self.rows:
            if row.level == LEVEL_NAMES[KECAMATAN]:
                groups.append((row, []))
            elif row.level == LEVEL_NAMES[DESA]:
                if not groups:
                    groups.append((None, []))
                groups[-1][1].append(row)
        return groups


@dataclass(frozen=True)
class TrendDay:
    """Jemput records received on one day (office time, WIB)."""

    day: dt.date
    records: int


def report(at: dt.date, region: str | None = None) -> CoverageReport:
    """Coverage of the regency, each kecamatan and each desa under ``region`` (None: all)."""
    code = checked_region(region)
    desa = _desa_counts(at, code)
    names, levels = _regions_in_scope(code, desa)
    rows: dict[str, CoverageRow] = {}
    for kode in sorted(names, key=_order):
        rows[kode] = CoverageRow(kode, names[kode], LEVEL_NAMES[levels[kode]])
    for kode, counts in desa.items():
        for ancestor in _ancestors(kode):
            if ancestor in rows:
                rows[ancestor].add(counts)
    db.session.commit()
    return CoverageReport(at, code, list(rows.values()))


def desa_unrecorded(at: dt.date, kecamatan: str | None = None) -> dict[str, int]:
    """Wajib-KTP residents recorded nowhere, per desa code (desa with residents only)."""
    code = checked_region(kecamatan)
    counts = _desa_counts(at, code)
    db.session.commit()
    return {kode: row.not_recorded for kode, row in sorted(counts.items())}


def trend(days: int = 30, region: str | None = None,
          now: dt.datetime | None = None) -> list[TrendDay]:
    """New recordings through Jemput per day over the last ``days`` days (oldest first, zeros
    too): wajib residents SIAK does not list as recorded, on the day their first standing record
    arrived. Summed over all days this is ``recorded_jemput``, the figure beside the chart."""
    if not 1 <= days <= MAX_TREND_DAYS:
        raise InvalidInput(f"Jumlah hari tren harus 1 sampai {MAX_TREND_DAYS}.")
    code = checked_region(region)
    today = office_today(now)
    first = today - dt.timedelta(days=days - 1)
    start = office_day_start(first).astimezone(dt.UTC)
    scope = true() if code is None else _under(Resident.desa_kode, code)
    arrived = func.min(Enrollment.received_at)
    query = (select(arrived)
             .join(Resident, Resident.nik == Enrollment.nik)
             .where(Enrollment.state.in_(RECORDING_STATES), Resident.recorded.is_(False),
                    is_wajib(today), scope)
             .group_by(Enrollment.nik)
             .having(arrived >= start))
    zone = office_zone()
    per_day = Counter(as_utc(moment).astimezone(zone).date()
                      for moment in db.session.execute(query).scalars())
    db.session.commit()
    return [TrendDay(first + dt.timedelta(days=n), per_day.get(first + dt.timedelta(days=n), 0))
            for n in range(days)]


def reference_date(value: str | None, now: dt.datetime | None = None) -> dt.date:
    """The date a report is for: ``YYYY-MM-DD``, or today (office time) when empty; bad: 400."""
    if value is None or not value.strip():
        return office_today(now)
    text = value.strip()
    try:
        if not ISO_DATE.match(text):
            raise ValueError(text)
        day = dt.date.fromisoformat(text)
        if not REPORT_YEARS[0] <= day.year <= REPORT_YEARS[1]:
            raise ValueError(text)  # the age rules count years back and forth from it
        return day
    except ValueError:
        raise InvalidInput(f"Tanggal '{text[:20]}' tidak sah: pakai TTTT-BB-HH, mis. 2026-11-29.",
                           errors={"at": ["tanggal tidak sah"]}) from None


def csv_rows(data: CoverageReport) -> Iterator[dict[str, object]]:
    """The report's rows for a CSV export (:data:`CSV_COLUMNS`; percent like ``86.25``)."""
    for row in data.rows:
        values = row.as_dict()
        del values["jemput_by_state"]
        values["percent"] = "" if row.percent is None else str(row.percent)
        for state in PROGRESS:
            values[f"jemput_{state.value}"] = row.jemput_by_state.get(state.value, 0)
        yield values


def checked_region(region: str | None) -> str | None:
    """``region`` stripped, or None for everything; malformed -> 400, unknown -> 404."""
    if region is None or not region.strip():
        return None
    code = region.strip()
    if not REGION_CODE.match(code) or "." not in code:
        raise InvalidInput(
            f"Kode wilayah '{code[:20]}' tidak sah: pakai kode Kemendagri kabupaten, kecamatan "
            "atau desa, mis. 61.09, 61.09.04 atau 61.09.04.2006.",
            errors={"region": ["kode wilayah tidak sah"]})
    if db.session.get(Region, code) is None:
        raise NotFound(f"Wilayah '{code}' tidak ada di tabel wilayah.",
                       errors={"region": ["wilayah tidak dikenal"]})
    return code


def _under(column: QueryableAttribute[str], code: str) -> ColumnElement[bool]:
    """``column`` is a code beneath ``code`` (an index range, not a LIKE); a desa: itself."""
    if code.count(".") == 3:
        return column == code
    return and_(column > code + ".", column < code + "/")  # '/' sorts right after '.'


def _desa_counts(at: dt.date, code: str | None) -> dict[str, CoverageRow]:
    """Counts per desa code of the residents under ``code`` (one scan, one small join)."""
    wajib = is_wajib(at)
    scope = true() if code is None else _under(Resident.desa_kode, code)
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


def _regions_in_scope(code: str | None, desa: dict[str, CoverageRow],
                      ) -> tuple[dict[str, str], dict[str, int]]:
    """Names and levels of the rows: the regencies holding residents (or ``code``) and below."""
    if code is None:
        tops = sorted({kode[:5] for kode in desa})
        if not tops:
            return {}, {}
        condition = or_(Region.kode.in_(tops), *(_under(Region.kode, top) for top in tops))
    else:
        condition = or_(Region.kode == code, _under(Region.kode, code))
    found = db.session.execute(select(Region.kode, Region.nama, Region.level)
                               .where(condition, Region.level >= REGENCY)).all()
    names = {kode: nama for kode, nama, _ in found}
    levels = {kode: level for kode, _, level in found}
    for kode in desa:  # a desa the region table lacks still shows, under its code
        names.setdefault(kode, f"(kode {kode} tidak dikenal)")
        levels.setdefault(kode, DESA)
    return names, levels


def _ancestors(kode: str) -> Iterable[str]:
    """The desa itself, its kecamatan and its regency."""
    return (kode, kode[:8], kode[:5])


def _order(kode: str) -> tuple[str, ...]:
    """Regency, then each kecamatan directly followed by its desa (code order)."""
    return tuple(kode.split("."))
