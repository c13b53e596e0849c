"""Outreach, read side: which desa to visit next, the visits, and how far each one got.

The ranking puts the desa with the most wajib KTP residents recorded nowhere first. Among
equals, the desa never visited comes first, then the one visited longest ago: the registry has
no coordinates, so "distance from the last visit" is measured in time since a team was last
there (a visit counts from its first day once that day has come, unless it was cancelled).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, func, or_, select, true

from server.core.errors import NotFound
from server.core.extensions import db
from server.core.models import Device, Enrollment, OutreachTarget, OutreachVisit, Region, Resident
from server.core.models.outreach import CANCELLED, PLANNED
from server.core.models.region import DESA
from server.coverage import figures
from server.registry.wajib import RECORDING_STATES, recorded_in_jemput

MAX_VISITS = 500


@dataclass(frozen=True)
class VisitInfo:
    """A visit as the device and the office see it."""

    id: str
    desa_kode: str
    desa_nama: str
    kecamatan_kode: str
    kecamatan_nama: str
    visit_date: dt.date
    ends_on: dt.date
    days: int
    team: str
    device_id: str
    device_name: str
    state: str
    target_count: int
    created_by: str
    created_at: dt.datetime
    closed_at: dt.datetime | None


@dataclass(frozen=True)
class RankedDesa:
    """One desa in the ranking: what is left to record there and when a team last came."""

    desa_kode: str
    desa_nama: str
    kecamatan_kode: str
    kecamatan_nama: str
    not_recorded: int
    last_visit: dt.date | None
    days_since_last_visit: int | None
    planned_visit: VisitInfo | None


@dataclass(frozen=True)
class VisitProgress:
    """A visit against its target list: who on it is recorded by now (SIAK or Jemput)."""

    visit: VisitInfo
    done: int
    #: Standing records this visit's device sent from the desa since the visit was planned.
    records: int
    targets: list[dict[str, Any]]

    @property
    def percent(self) -> Decimal | None:
        """Done per target, in percent to 2 decimals; None for an empty list."""
        return figures.share(self.done, self.visit.target_count)


def ranking(at: dt.date, kecamatan: str | None = None) -> list[RankedDesa]:
    """Every desa under ``kecamatan`` (None: all), most not-recorded first (module doc)."""
    code = figures.checked_region(kecamatan)
    unrecorded = figures.desa_unrecorded(at, code)
    desa_rows = db.session.execute(
        select(Region.kode, Region.nama).where(Region.level == DESA)
        .where(true() if code is None else or_(Region.kode == code,
                                             Region.kode.startswith(code + ".")))
    ).all()
    names = _names({kode[:8] for kode, _ in desa_rows})
    last = dict(db.session.execute(
        select(OutreachVisit.desa_kode, func.max(OutreachVisit.visit_date))
        .where(OutreachVisit.state != CANCELLED, OutreachVisit.visit_date <= at)
        .group_by(OutreachVisit.desa_kode)
    ).all())
    planned: dict[str, VisitInfo] = {}
    for visit in visits(state=PLANNED):  # earliest first: the next one is kept
        planned.setdefault(visit.desa_kode, visit)
    db.session.commit()
    ranked = [
        RankedDesa(kode, nama, kode[:8], names.get(kode[:8], ""), unrecorded.get(kode, 0),
                   last.get(kode), None if kode not in last else (at - last[kode]).days,
                   planned.get(kode))
        for kode, nama in desa_rows
    ]
    ranked.sort(key=lambda row: (-row.not_recorded, row.last_visit is not None,
                                 -(row.days_since_last_visit or 0), row.desa_kode))
    return ranked


def visits(state: str | None = None, desa_kode: str | None = None, limit: int = MAX_VISITS,
           newest_first: bool = False) -> list[VisitInfo]:
    """Visits (of one state / desa when given), by visit date then creation, at most ``limit``."""
    order = (OutreachVisit.visit_date, OutreachVisit.created_at)
    query = _info_query().order_by(*(column.desc() for column in order) if newest_first
                                   else order)
    if state is not None:
        query = query.where(OutreachVisit.state == state)
    if desa_kode is not None:
        query = query.where(OutreachVisit.desa_kode == desa_kode)
    rows = db.session.execute(query.limit(limit)).all()
    db.session.commit()
    return [_info(*row) for row in rows]


def visit_info(visit_id: str) -> VisitInfo:
    """One visit with its desa and kecamatan names; :class:`NotFound` when there is none."""
    row = db.session.execute(
        _info_query().where(OutreachVisit.id == visit_id[:36])
        .execution_options(populate_existing=True)  # not a copy from before an UPDATE
    ).first()
    db.session.commit()
    if row is None:
        raise NotFound(f"Kunjungan {visit_id[:36]} tidak ditemukan.")
    return _info(*row)


def visit_progress(visit_id: str) -> VisitProgress:
    """The visit, its targets marked done or not (not done first), and the counts."""
    visit = visit_info(visit_id)
    recorded = or_(Resident.recorded.is_(True), Resident.nik.in_(recorded_in_jemput()))
    rows = db.session.execute(
        select(Resident.nik, Resident.nama, Resident.tanggal_lahir, Resident.jenis_kelamin,
               Resident.alamat, Resident.rt, Resident.rw, recorded.label("done"))
        .join(OutreachTarget, OutreachTarget.nik == Resident.nik)
        .where(OutreachTarget.visit_id == visit.id)
    ).all()
    # Records received since the visit was planned and captured before it was closed: a later
    # visit of the same device to the same desa does not count here; one synced late does.
    during = [Enrollment.received_at >= visit.created_at]
    if visit.closed_at is not None:
        during.append(Enrollment.captured_at <= visit.closed_at)
    records = db.session.execute(
        select(func.count()).select_from(Enrollment)
        .where(Enrollment.device_id == visit.device_id, Enrollment.desa_kode == visit.desa_kode,
               *during, Enrollment.state.in_(RECORDING_STATES))
    ).scalar_one()
    db.session.commit()
    targets = sorted(({**row._asdict(), "done": bool(row.done)} for row in rows),
                     key=lambda t: (t["done"], t["nama"], t["nik"]))
    return VisitProgress(visit, sum(t["done"] for t in targets), int(records), targets)


@dataclass(frozen=True)
class DeviceChoice:
    """A device a visit can be assigned to."""

    id: str
    name: str
    team: str


def active_devices() -> list[DeviceChoice]:
    """Registered, unrevoked devices by team and name: the choices for a new visit."""
    rows = db.session.execute(
        select(Device.id, Device.name, Device.team).where(Device.revoked_at.is_(None))
        .order_by(Device.team, Device.name, Device.id)
    ).all()
    db.session.commit()
    return [DeviceChoice(*row) for row in rows]


def _info_query() -> Any:
    desa, kecamatan = Region.__table__.alias("desa"), Region.__table__.alias("kecamatan")
    return (select(OutreachVisit, desa.c.nama, kecamatan.c.nama, Device.name)
            .join(desa, desa.c.kode == OutreachVisit.desa_kode)
            .join(Device, Device.id == OutreachVisit.device_id)
            .outerjoin(kecamatan, and_(kecamatan.c.kode == func.substr(OutreachVisit.desa_kode,
                                                                         1, 8))))


def _info(visit: OutreachVisit, desa_nama: str, kecamatan_nama: str | None,
          device_name: str) -> VisitInfo:
    return VisitInfo(
        id=visit.id, desa_kode=visit.desa_kode, desa_nama=desa_nama,
        kecamatan_kode=visit.desa_kode[:8], kecamatan_nama=kecamatan_nama or "",
        visit_date=visit.visit_date, ends_on=visit.visit_date + dt.timedelta(days=visit.days - 1),
        days=visit.days, team=visit.team, device_id=visit.device_id, device_name=device_name,
        state=visit.state, target_count=visit.target_count, created_by=visit.created_by,
        created_at=visit.created_at, closed_at=visit.closed_at)


def _names(codes: set[str]) -> dict[str, str]:
    return dict(db.session.execute(
        select(Region.kode, Region.nama).where(Region.kode.in_(sorted(codes)))
    ).all())
