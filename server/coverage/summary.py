"""The coverage summary: per-desa figures at one date, recomputed by a background job.

At province scale (millions of residents, a million records) the live recount
(:mod:`server.coverage.counts`) takes seconds; the office pages read this summary instead
whenever it holds the date they ask for. The ``refresh_coverage`` job recomputes all of it in
one transaction with set-based queries and records the date it is for, when it was computed and
the newest record state change and registry write it saw.

A refresh is queued (at most one waits at a time, :func:`queue_refresh`):

- when a check run or a population import finishes (the job runner's after-done hook): every
  record sync completes is checked by a ``check_records`` job, so new records land here;
- when a report finds the summary behind (a record's state or a resident changed after it was
  computed: decisions, bulk approvals, printing) or for another day (the office date moved on;
  every refresh also queues the next one for the coming office midnight, when residents turn 17).

Queued refreshes wait :data:`MIN_INTERVAL` after the last one (a busy day of pushes is not a
recount per push); ``JEMPUT_COVERAGE_REFRESH_SECONDS`` sets it (0 under ``JEMPUT_JOBS=inline``).
A report for another date than the summary's is counted live.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from flask import current_app
from sqlalchemy import and_, case, delete, func, or_, select, text, update

from server.core import bulk
from server.core.extensions import db
from server.core.jobs import queue, worker
from server.core.jobs.queue import Claimed
from server.core.jobs.runner import Progress
from server.core.models import (
    CoverageArrival,
    CoverageRefresh,
    CoverageRegion,
    Enrollment,
    Job,
    Resident,
)
from server.core.models.base import table_of
from server.core.models.coverage import SUMMARY_ID
from server.core.models.job import QUEUED
from server.core.models.region import DESA, KECAMATAN, REGENCY
from server.core.timeutil import as_utc, office_day_start, office_today, office_zone, utcnow
from server.coverage import counts
from server.registry.wajib import RECORDING_STATES, is_wajib, turns_17_within

log = logging.getLogger(__name__)
REFRESH_COVERAGE = "refresh_coverage"
#: Queued refreshes wait this long after the last one (``JEMPUT_COVERAGE_REFRESH_SECONDS``).
MIN_INTERVAL = dt.timedelta(seconds=60)
#: Days of arrivals the summary keeps for the trend (the API allows up to this many).
ARRIVAL_DAYS = 366
#: Job kinds whose end may change coverage (checks move states; an import, the registry).
AFTER_KINDS = frozenset({"check_records", "check_all", "import_population"})
#: Key of the PostgreSQL advisory lock that makes "at most one queued refresh" hold.
LOCK_KEY = 0x6A656D70  # "jemp"


@dataclass(frozen=True)
class Stamp:
    """What the summary holds: its date, when it was computed, whether it is behind now."""

    at: dt.date
    computed_at: dt.datetime
    behind: bool
    milliseconds: int


# --- the refresh ------------------------------------------------------------------------------


def refresh(at: dt.date | None = None) -> dict[str, Any]:
    """Recompute the summary for ``at`` (default: today, WIB) in the session's transaction (the
    caller commits); counts for the log."""
    started = time.perf_counter()
    at = at or office_today()
    records_seen, residents_seen = _watermarks()
    regions = _with_ancestors(_desa_rows(at))
    arrivals = _arrivals(at)
    db.session.execute(delete(CoverageRegion))
    db.session.execute(delete(CoverageArrival))
    bulk.copy_rows(table_of(CoverageRegion), REGION_COLUMNS,
                   [_region_values(kode, row) for kode, row in sorted(regions.items())])
    bulk.copy_rows(table_of(CoverageArrival), ("kode", "day", "records"), arrivals)
    if db.session.get_bind().dialect.name == "postgresql":
        # The dashboard and the records list read the planner's per-state estimates: keep
        # them as fresh as these figures (a sample of 30,000 rows, not a scan).
        db.session.execute(text("ANALYZE enrollment"))
    stamp = db.session.get(CoverageRefresh, SUMMARY_ID)
    if stamp is None:
        stamp = CoverageRefresh(id=SUMMARY_ID)
        db.session.add(stamp)
    stamp.at, stamp.computed_at = at, utcnow()
    stamp.records_seen, stamp.residents_seen = records_seen, residents_seen
    stamp.milliseconds = int((time.perf_counter() - started) * 1000)
    db.session.flush()
    return {"at": at.isoformat(), "regions": len(regions), "arrivals": len(arrivals),
            "milliseconds": stamp.milliseconds}


REGION_COLUMNS = ("kode", "level", "wajib", "recorded_siak", "turning_17",
                  *(f"jemput_{state.value}" for state in counts.PROGRESS))
LEVELS = {name: level for level, name in counts.LEVEL_NAMES.items()}


def _region_values(kode: str, row: counts.CoverageRow) -> tuple[Any, ...]:
    return (kode, LEVELS[row.level], row.wajib, row.recorded_siak, row.turning_17,
            *(row.jemput_by_state.get(state.value, 0) for state in counts.PROGRESS))


def _watermarks() -> tuple[dt.datetime | None, dt.datetime | None]:
    """The newest record state change and registry write (read before counting)."""
    row = db.session.execute(select(
        select(func.max(Enrollment.state_changed_at)).scalar_subquery(),
        select(func.max(Resident.updated_at)).scalar_subquery())).one()
    return (None if row[0] is None else as_utc(row[0]),
            None if row[1] is None else as_utc(row[1]))


def _desa_rows(at: dt.date) -> dict[str, counts.CoverageRow]:
    """Every desa's figures at ``at``, set-based (no row per resident reaches Python)."""
    wajib = is_wajib(at)
    rows = {kode: counts.CoverageRow(kode, kode, counts.LEVEL_NAMES[DESA], int(w or 0),
                                     int(s or 0), turning_17=int(t or 0))
            for kode, w, s, t in db.session.execute(
                select(Resident.desa_kode, func.sum(case((wajib, 1), else_=0)),
                       func.sum(case((and_(wajib, Resident.recorded), 1), else_=0)),
                       func.sum(case((turns_17_within(at), 1), else_=0)))
                .group_by(Resident.desa_kode))}
    rank = case(*((Enrollment.state == state, number)
                  for state, number in counts.RANK.items()))
    best = (select(Resident.desa_kode.label("desa"), func.max(rank).label("rank"))
            .join(Resident, Resident.nik == Enrollment.nik)
            .where(Enrollment.state.in_(RECORDING_STATES), Resident.recorded.is_(False), wajib)
            .group_by(Enrollment.nik, Resident.desa_kode).subquery())
    for desa, number, count in db.session.execute(
            select(best.c.desa, best.c.rank, func.count()).group_by(best.c.desa, best.c.rank)):
        row = rows[desa]
        row.jemput_by_state[counts.PROGRESS[int(number)].value] = int(count)
        row.recorded_jemput += int(count)
    return rows


def _with_ancestors(desa: dict[str, counts.CoverageRow]) -> dict[str, counts.CoverageRow]:
    """The desa rows and the sums of their kecamatan and kabupaten."""
    found = dict(desa)
    for kode, row in desa.items():
        for parent, level in ((kode[:8], KECAMATAN), (kode[:5], REGENCY)):
            if parent not in found:
                found[parent] = counts.CoverageRow(parent, parent, counts.LEVEL_NAMES[level])
            found[parent].add(row)
    return found


def _arrivals(at: dt.date) -> list[tuple[str, dt.date, int]]:
    """New recordings per region and office day over the last :data:`ARRIVAL_DAYS` days: each
    desa, kecamatan and kabupaten, and ``""`` for everything."""
    first = at - dt.timedelta(days=ARRIVAL_DAYS - 1)
    since = office_day_start(first).astimezone(dt.UTC)
    zone = office_zone()
    per_day: Counter[tuple[str, dt.date]] = Counter()
    for desa, moment in counts.first_arrivals(at, since):
        day = as_utc(moment).astimezone(zone).date()
        for kode in (desa, desa[:8], desa[:5], ""):
            per_day[(kode, day)] += 1
    return [(kode, day, number) for (kode, day), number in sorted(per_day.items())]


# --- reading it -------------------------------------------------------------------------------


def stamp() -> Stamp | None:
    """What the summary holds (None: never computed), not looking at whether it is behind."""
    found = db.session.get(CoverageRefresh, SUMMARY_ID)
    if found is None:
        return None
    return Stamp(found.at, as_utc(found.computed_at), found.at != office_today()
                 or _is_behind(found), found.milliseconds)


def usable(at: dt.date) -> Stamp | None:
    """The summary's stamp when it can answer for ``at``, else None (count live).

    Only today's figures are kept. A summary that is missing, for another day or behind the
    data gets a refresh queued; one that is behind still answers (its stamp says so). Under
    ``JEMPUT_JOBS=inline`` the refresh has run by the time this returns.
    """
    if at != office_today():
        return None
    found = stamp()
    if found is not None and not found.behind:
        return found
    queue_refresh()
    db.session.commit()
    worker.wake()
    db.session.expire_all()
    again = stamp()
    if again is None or again.at != at:
        return None
    return again


def _is_behind(found: CoverageRefresh) -> bool:
    records, residents = _watermarks()
    return _newer(records, found.records_seen) or _newer(residents, found.residents_seen)


def _newer(now: dt.datetime | None, seen: dt.datetime | None) -> bool:
    if now is None:
        return False
    return seen is None or now > as_utc(seen)


def region_counts(code: str | None, deepest: int = DESA) -> dict[str, counts.CoverageRow]:
    """The summary's rows (kabupaten, kecamatan, desa: down to level ``deepest``) at or under
    ``code`` (None: all)."""
    table = table_of(CoverageRegion)
    query = select(*(table.c[name] for name in REGION_COLUMNS)).where(table.c.level <= deepest)
    if code is not None:
        query = query.where(or_(table.c.kode == code, counts.under(CoverageRegion.kode, code)))
    states = [state.value for state in counts.PROGRESS]
    rows = {}
    for kode, level, wajib, siak, turning, *jemput in db.session.execute(query):
        by_state = {state: number for state, number in zip(states, jemput, strict=True)
                    if number}
        rows[kode] = counts.CoverageRow(kode, kode, counts.LEVEL_NAMES[level], wajib, siak,
                                        sum(jemput), by_state, turning)
    return rows


def arrivals(first: dt.date, code: str | None) -> dict[dt.date, int]:
    """New recordings per office day from ``first`` on, under ``code`` (None: everywhere)."""
    query = (select(CoverageArrival.day, CoverageArrival.records)
             .where(CoverageArrival.kode == (code or ""), CoverageArrival.day >= first))
    return {day: int(number) for day, number in db.session.execute(query)}


# --- queueing it ------------------------------------------------------------------------------


def queue_refresh(due: dt.datetime | None = None) -> int:
    """Make sure a refresh is queued, due at ``due`` (default: :data:`MIN_INTERVAL` after the
    last one, or now), in the session's transaction (the caller commits, then wakes the
    runner); the queued job's id. At most one refresh waits: an earlier ``due`` moves it up."""
    if db.session.get_bind().dialect.name == "postgresql":  # two requests at once: one job
        db.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})
    due = due or _next_due()
    waiting = db.session.execute(
        select(Job).where(Job.kind == REFRESH_COVERAGE, Job.state == QUEUED)
        .order_by(Job.run_after).limit(1)).scalar_one_or_none()
    if waiting is not None:
        if as_utc(waiting.run_after) > due:
            waiting.run_after = due
        return waiting.id
    job_id = queue.enqueue(REFRESH_COVERAGE, {}, max_attempts=3)
    db.session.execute(update(table_of(Job)).where(table_of(Job).c.id == job_id)
                       .values(run_after=max(due, utcnow())))
    return job_id


def _next_due() -> dt.datetime:
    now = utcnow()
    found = db.session.get(CoverageRefresh, SUMMARY_ID)
    if found is None:
        return now
    return max(now, as_utc(found.computed_at) + _interval())


def _interval() -> dt.timedelta:
    configured = current_app.config.get("JEMPUT_COVERAGE_REFRESH_SECONDS")
    if configured is None:
        return dt.timedelta(0) if _inline() else MIN_INTERVAL
    return dt.timedelta(seconds=float(configured))


def _inline() -> bool:
    return bool(current_app.config.get("JEMPUT_JOBS") == "inline")


def next_midnight(now: dt.datetime | None = None) -> dt.datetime:
    """The coming office midnight (WIB), in UTC: the date moves on, residents turn 17."""
    tomorrow = office_today(now) + dt.timedelta(days=1)
    return office_day_start(tomorrow).astimezone(dt.UTC)


def refresh_job(jobs: Sequence[Claimed], progress: Progress) -> None:
    """The ``refresh_coverage`` job: recompute, then queue the next for the coming midnight.

    No job result: the jobs page shows check and import results; what the refresh did is in
    ``coverage_refresh`` (its date, time and duration) and the log."""
    result = refresh()
    queue_refresh(next_midnight())
    progress(1, 1)
    log.info("Coverage refreshed for %s: %d regions in %d ms", result["at"], result["regions"],
             result["milliseconds"])


def queue_and_wake() -> None:
    """Queue a refresh in a transaction of its own and tell the runner."""
    queue_refresh()
    db.session.commit()
    worker.wake()


def after_job(kind: str) -> None:
    """The job runner's after-done hook: a check run or an import may have moved figures.
    The refresh waits :data:`MIN_INTERVAL` from now (none under inline jobs), so the checks of
    a burst of pushes are counted once, after the burst."""
    if kind in AFTER_KINDS:
        queue_refresh(max(_next_due(), utcnow() + _interval()))
        db.session.commit()
        worker.wake()
