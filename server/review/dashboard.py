"""The office dashboard: arrivals, open cases by kind, devices and their sequence gaps."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select

from server.core.extensions import db
from server.core.models import Case, CaseRecord, Device, Enrollment
from server.core.models.case import OPEN
from server.core.timeutil import office_zone, utcnow
from server.review import queue
from shared.protocol import CaseKind, ServerState


@dataclass(frozen=True)
class DeviceRow:
    """One device: who, last contact, records waiting for their files, open gaps."""

    id: str
    name: str
    team: str
    kecamatan_kode: str | None
    last_seen_at: dt.datetime | None
    last_seq: int
    received_count: int
    pending: int
    gaps: int
    revoked: bool


@dataclass(frozen=True)
class GapRow:
    """An open sequence-gap case."""

    case_id: int
    device_id: str | None
    team: str | None
    explanation: str
    opened_at: dt.datetime


class StateCounts(dict[str, int]):
    """Records per state; ``estimated`` names the states whose figure is PostgreSQL's estimate
    (the large, settled ones: see :func:`_by_state`)."""

    def __init__(self, counts: dict[str, int], estimated: frozenset[str] = frozenset()) -> None:
        super().__init__(counts)
        self.estimated = estimated


#: A state with at least this many records (by the planner's statistics) is shown as estimated
#: on PostgreSQL; the smaller ones are counted exactly with an index-only scan of
#: ``enrollment(state, id)``.
EXACT_BELOW = queue.ESTIMATE_FROM


@dataclass(frozen=True)
class Dashboard:
    """Everything the dashboard shows."""

    received_today: int
    received_week: int
    by_state: StateCounts
    open_by_kind: dict[str, int]
    open_total: int
    #: Records named by open cases: one case may name several (a NIK recorded twice names both).
    open_case_records: int
    devices: list[DeviceRow]
    gaps: list[GapRow]

    @property
    def open_case_records_bound(self) -> bool:
        """``open_case_records`` is an upper bound (see :func:`_records_in_open_cases`)."""
        return self.open_total >= EXACT_BELOW and _postgresql()


def dashboard(now: dt.datetime | None = None) -> Dashboard:
    """Count what the office needs at a glance (GROUP BYs on indexed columns)."""
    now = now or utcnow()
    local = now.astimezone(office_zone())
    today = local.replace(hour=0, minute=0, second=0, microsecond=0)
    week = today - dt.timedelta(days=today.weekday())
    received_today = _received_since(today.astimezone(dt.UTC))
    received_week = _received_since(week.astimezone(dt.UTC))
    by_state = _by_state()
    open_by_kind = dict(db.session.execute(
        select(Case.kind, func.count()).where(Case.state == OPEN).group_by(Case.kind)
    ).all())
    ordered = {kind.value: open_by_kind.get(kind.value, 0) for kind in CaseKind}
    open_total = sum(open_by_kind.values())
    in_open_cases = _records_in_open_cases(open_total)
    result = Dashboard(received_today, received_week, by_state, ordered,
                       open_total, in_open_cases, _devices(), _gaps())
    db.session.commit()
    return result


def _records_in_open_cases(open_total: int) -> int:
    """Records named by open cases: exact (distinct records) while open cases are fewer than
    :data:`EXACT_BELOW`; beyond, the records' mentions (a record named by two open cases counts
    twice: an upper bound, shown as "hingga"), which spares hashing every record id."""
    mentions = (select(CaseRecord.enrollment_id).join(Case, Case.id == CaseRecord.case_id)
                .where(Case.state == OPEN))
    if open_total < EXACT_BELOW or not _postgresql():
        mentions = mentions.group_by(CaseRecord.enrollment_id)
    return int(db.session.execute(
        select(func.count()).select_from(mentions.subquery())).scalar_one())


def _by_state() -> StateCounts:
    """Records per state: one GROUP BY on SQLite; on PostgreSQL an exact count per state that
    the statistics say is small, and the statistics' estimate for the large ones (counting
    half a million printed records on every view costs more than the page is allowed)."""
    estimates = queue.state_estimates()
    if not estimates:
        return StateCounts(dict(db.session.execute(
            select(Enrollment.state, func.count()).group_by(Enrollment.state)).all()))
    large = frozenset(state for state, rows in estimates.items() if rows >= EXACT_BELOW)
    counts = {state: rows for state, rows in estimates.items() if state in large}
    for state in sorted(set(ServerState) - large):
        exact = int(db.session.execute(select(func.count()).select_from(Enrollment)
                                       .where(Enrollment.state == state)).scalar_one())
        if exact:
            counts[state] = exact
    return StateCounts(counts, large)


def _postgresql() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def _received_since(start: dt.datetime) -> int:
    return int(db.session.execute(
        select(func.count()).select_from(Enrollment).where(Enrollment.received_at >= start)
    ).scalar_one())


def _devices() -> list[DeviceRow]:
    pending = dict(db.session.execute(
        select(Enrollment.device_id, func.count())
        .where(Enrollment.state == ServerState.RECEIVED.value)
        .group_by(Enrollment.device_id)).all())
    gaps = dict(db.session.execute(
        select(Case.device_id, func.count())
        .where(Case.state == OPEN, Case.kind == CaseKind.SEQUENCE_GAP.value)
        .group_by(Case.device_id)).all())
    devices = db.session.execute(
        select(Device).order_by(Device.last_seen_at.desc(), Device.name)).scalars().all()
    return [
        DeviceRow(d.id, d.name, d.team, d.kecamatan_kode, d.last_seen_at, d.last_seq,
                  d.received_count, pending.get(d.id, 0), gaps.get(d.id, 0),
                  d.revoked_at is not None)
        for d in devices
    ]


def _gaps() -> list[GapRow]:
    rows = db.session.execute(
        select(Case.id, Case.device_id, Case.team, Case.explanation, Case.opened_at)
        .where(Case.state == OPEN, Case.kind == CaseKind.SEQUENCE_GAP.value)
        .order_by(Case.id).limit(200)
    ).all()
    return [GapRow(*row) for row in rows]
