"""Coverage: who must hold an e-KTP and who is recorded, per regency, kecamatan and desa.

The counting rules are in :mod:`server.coverage.counts` (the live recount). Today's reports read
the stored summary (:mod:`server.coverage.summary`) when it holds today's figures, and say when
they were computed; a report for another date is counted live.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from sqlalchemy import or_, select

from server.core.errors import InvalidInput, NotFound
from server.core.extensions import db
from server.core.models import Region
from server.core.models.region import DESA, KECAMATAN, PROVINCE, REGENCY
from server.core.timeutil import as_utc, office_day_start, office_today, office_zone
from server.coverage import counts, summary
from server.coverage.counts import LEVEL_NAMES, PROGRESS, RANK, CoverageRow, share

__all__ = ["LEVEL_NAMES", "PROGRESS", "RANK", "CoverageReport", "CoverageRow", "TrendDay",
           "checked_region", "csv_rows", "desa_unrecorded", "reference_date", "report",
           "share", "trend"]
REGION_CODE = re.compile(r"^[0-9]{2}(\.[0-9]{2}(\.[0-9]{2}(\.[0-9]{4})?)?)?$")
MAX_TREND_DAYS = 366
#: The years a report may be for (ages are counted back from the date, 0001 would overflow).
REPORT_YEARS = (1900, 2999)
#: Days of arrivals the coverage page shows, and the API by default.
DEFAULT_TREND_DAYS = 30
ISO_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
CSV_COLUMNS = ("kode", "nama", "level", "wajib", "recorded_siak", "recorded_jemput", "recorded",
               "not_recorded", "percent", "turning_17",
               *(f"jemput_{state.value}" for state in PROGRESS))


@dataclass(frozen=True)
class CoverageReport:
    """Rows at ``at``: regency first, then each kecamatan followed by its desa."""

    at: dt.date
    region: str | None
    rows: list[CoverageRow]
    #: The stored summary the figures come from (when and whether it is behind); None: counted
    #: live just now.
    computed: summary.Stamp | None = None
    #: A province-wide page: kabupaten and kecamatan rows only.
    wide: bool = False

    @property
    def top(self) -> CoverageRow | None:
        """The first (widest) row: the province or the regency, or the region asked for."""
        return self.rows[0] if self.rows else None

    @property
    def kecamatan(self) -> list[CoverageRow]:
        """The kecamatan rows."""
        return [row for row in self.rows if row.level == LEVEL_NAMES[KECAMATAN]]

    @property
    def bars(self) -> list[CoverageRow]:
        """The rows of the bar chart: the kabupaten on a province-wide page, else the
        kecamatan."""
        level = LEVEL_NAMES[REGENCY] if self.wide else LEVEL_NAMES[KECAMATAN]
        return [row for row in self.rows if row.level == level]

    @property
    def groups(self) -> list[tuple[CoverageRow | None, list[CoverageRow]]]:
        """Each kecamatan with its desa rows (the map-like grid; on a province-wide page each
        kabupaten with its kecamatan); a lone desa has no kecamatan."""
        parent, child = ((LEVEL_NAMES[REGENCY], LEVEL_NAMES[KECAMATAN]) if self.wide
                         else (LEVEL_NAMES[KECAMATAN], LEVEL_NAMES[DESA]))
        groups: list[tuple[CoverageRow | None, list[CoverageRow]]] = []
        for row in self.rows:
            if row.level == parent:
                groups.append((row, []))
            elif row.level == child:
                if not groups:
                    groups.append((None, []))
                groups[-1][1].append(row)
        return groups


@dataclass(frozen=True)
class TrendDay:
    """Jemput records received on one day (office time, WIB)."""

    day: dt.date
    records: int


def report(at: dt.date, region: str | None = None, *, wide: bool = False) -> CoverageReport:
    """Coverage of each kabupaten, kecamatan and desa under ``region`` (None: all, led by the
    province's row when there are several kabupaten). ``wide``: a page over several kabupaten
    stops at the kecamatan (a province's thousands of desa are a kabupaten's view away)."""
    code = checked_region(region)
    stamp = summary.usable(at)
    deepest = DESA
    if stamp:
        if wide and code is None:  # a province's page: no desa, unless one kabupaten
            stored = summary.region_counts(code, deepest=KECAMATAN)
            many = sum(1 for row in stored.values() if row.level == LEVEL_NAMES[REGENCY]) > 1
            deepest = KECAMATAN if many else DESA
        if deepest == DESA:
            stored = summary.region_counts(code)
        present = stored
    else:
        present = counts.desa_counts(at, code)
    names, levels = _regions_in_scope(code, present, deepest)
    rows = {kode: CoverageRow(kode, names[kode], LEVEL_NAMES[levels[kode]])
            for kode in sorted(names, key=_order)}
    if stamp:
        for kode, row in rows.items():
            if kode in stored:
                row.add(stored[kode])
    else:
        for kode, found in present.items():
            for ancestor in _ancestors(kode):
                if ancestor in rows:
                    rows[ancestor].add(found)
    ordered = _with_province(list(rows.values())) if code is None else list(rows.values())
    broad = wide and bool(ordered) and ordered[0].level == LEVEL_NAMES[PROVINCE]
    if broad:
        ordered = [row for row in ordered if row.level != LEVEL_NAMES[DESA]]
    db.session.commit()
    return CoverageReport(at, code, ordered, stamp, broad)


def _with_province(rows: list[CoverageRow]) -> list[CoverageRow]:
    """``rows`` led by their province's sum when they span several kabupaten of one province."""
    regencies = [row for row in rows if row.level == LEVEL_NAMES[REGENCY]]
    provinces = {row.kode[:2] for row in regencies}
    if len(regencies) < 2 or len(provinces) != 1:
        return rows
    kode = provinces.pop()
    known = db.session.get(Region, kode)
    total = CoverageRow(kode, known.nama if known else f"Provinsi {kode}",
                        LEVEL_NAMES[PROVINCE])
    for row in regencies:
        total.add(row)
    return [total, *rows]


def desa_unrecorded(at: dt.date, kecamatan: str | None = None) -> dict[str, int]:
    """Wajib-KTP residents recorded nowhere, per desa code (desa with residents only)."""
    code = checked_region(kecamatan)
    if summary.usable(at):
        found = {kode: row for kode, row in summary.region_counts(code).items()
                 if row.level == LEVEL_NAMES[DESA]}
    else:
        found = counts.desa_counts(at, code)
    db.session.commit()
    return {kode: row.not_recorded for kode, row in sorted(found.items())}


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
    if days <= summary.ARRIVAL_DAYS and summary.usable(today):
        per_day = summary.arrivals(first, code)
    else:
        per_day = _live_arrivals(today, first, code)
    db.session.commit()
    return [TrendDay(first + dt.timedelta(days=n), per_day.get(first + dt.timedelta(days=n), 0))
            for n in range(days)]


def _live_arrivals(today: dt.date, first: dt.date, code: str | None) -> dict[dt.date, int]:
    """New recordings per office day since ``first``, counted live."""
    start = office_day_start(first).astimezone(dt.UTC)
    zone = office_zone()
    return Counter(as_utc(moment).astimezone(zone).date()
                   for _, moment in counts.first_arrivals(today, start, code))


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


def _regions_in_scope(code: str | None, present: dict[str, CoverageRow], deepest: int = DESA,
                      ) -> tuple[dict[str, str], dict[str, int]]:
    """Names and levels of the rows down to ``deepest``: the regencies holding residents (or
    ``code``) and below. ``present``: the regions with residents, by code."""
    if code is None:
        tops = sorted({kode[:5] for kode in present})
        if not tops:
            return {}, {}
        condition = or_(Region.kode.in_(tops), *(counts.under(Region.kode, top) for top in tops))
    else:
        condition = or_(Region.kode == code, counts.under(Region.kode, code))
    found = db.session.execute(select(Region.kode, Region.nama, Region.level)
                               .where(condition, Region.level >= REGENCY,
                                      Region.level <= deepest)).all()
    names = {kode: nama for kode, nama, _ in found}
    levels = {kode: level for kode, _, level in found}
    for kode, row in present.items():  # a desa the region table lacks still shows, by code
        if deepest == DESA and row.level == LEVEL_NAMES[DESA]:
            names.setdefault(kode, f"(kode {kode} tidak dikenal)")
            levels.setdefault(kode, DESA)
    return names, levels


def _ancestors(kode: str) -> Iterable[str]:
    """The desa itself, its kecamatan and its regency."""
    return (kode, kode[:8], kode[:5])


def _order(kode: str) -> tuple[str, ...]:
    """Regency, then each kecamatan directly followed by its desa (code order)."""
    return tuple(kode.split("."))
