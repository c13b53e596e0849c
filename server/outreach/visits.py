"""Jemput-bola outreach: plan a visit to a desa, hand its target list to the device, close it.

A visit is planned in one transaction: the device's row is locked first (like every writer of
the pull feed, see ``Change``), then the visit, its target list (a snapshot of the desa's wajib
KTP residents who are not recorded on the visit date), the ``outreach_assigned`` feed entry and
the audit event are written together. Closing or cancelling writes ``outreach_closed`` the same
way, and the device then deletes the list. The server keeps its copy of the list: the visit's
progress is measured against it.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Any, cast

from marshmallow import EXCLUDE, RAISE, Schema, fields, validate
from sqlalchemy import func, insert, literal, select, update

from server.accounts.actor import Actor
from server.core import audit
from server.core.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotAssigned,
    NotFound,
    VisitClosed,
)
from server.core.extensions import db
from server.core.models import Change, Device, OutreachTarget, OutreachVisit, Region, Resident
from server.core.models.outreach import CANCELLED, CLOSED, PLANNED
from server.core.models.region import DESA
from server.core.timeutil import office_today, utcnow
from server.outreach.report import (
    DeviceChoice,
    RankedDesa,
    VisitInfo,
    VisitProgress,
    active_devices,
    ranking,
    visit_info,
    visit_progress,
    visits,
)
from server.registry.wajib import is_unrecorded, is_wajib
from server.sync.transitions import lock_devices
from shared.labels import VISIT_STATE_LABELS
from shared.protocol import ChangeKind

__all__ = [  # the read side lives in outreach_report; one import serves both
    "DeviceChoice", "NotAssigned", "RankedDesa", "VisitClosed", "VisitInfo", "VisitProgress",
    "VisitRequestSchema", "active_devices", "close_visit", "create_visit", "office_today",
    "progress_document", "ranking", "targets_for_device", "visit_info", "visit_progress",
    "visits",
]

PLANNERS = frozenset({"supervisor", "admin"})
MAX_DAYS = 14
MAX_TEAM = 120
DESA_KODE = re.compile(r"^\d{2}\.\d{2}\.\d{2}\.\d{4}$")
#: The resident fields a device gets for each target: enough to find and prefill, nothing more.
TARGET_FIELDS = ("nik", "nama", "tanggal_lahir", "jenis_kelamin", "alamat", "rt", "rw")


class VisitRequestSchema(Schema):
    """A visit to plan: which desa, when, for how many days, which team with which device.

    The office API loads its JSON body with ``VisitRequestSchema()`` (unknown fields refused,
    ``days`` a JSON number); the office page loads its form with
    ``VisitRequestSchema(form=True)``: the CSRF token beside the fields is left out and every
    value, ``days`` too, arrives as text. :func:`create_visit` checks the values themselves.
    """

    class Meta:
        unknown = RAISE

    desa_kode = fields.String(required=True, validate=validate.Length(max=20))
    visit_date = fields.Date(required=True)
    team = fields.String(required=True, validate=validate.Length(max=MAX_TEAM))
    device_id = fields.String(required=True, validate=validate.Length(max=36))
    days = fields.Integer(load_default=1, strict=True)

    def __init__(self, *, form: bool = False, **kwargs: Any) -> None:
        if form:
            kwargs.setdefault("unknown", EXCLUDE)
        super().__init__(**kwargs)
        # Each instance has its own copies of the fields.
        cast(fields.Integer, self.fields["days"]).strict = not form


def create_visit(desa_kode: str, visit_date: dt.date, team: str, device_id: str, *,
                 actor: Actor, days: int = 1, today: dt.date | None = None) -> VisitInfo:
    """Plan a visit and snapshot its target list; commit and return it."""
    _require(actor, "merencanakan kunjungan")
    desa_kode = _known_desa(desa_kode)
    team = _team(team)
    today = today or office_today()
    if visit_date < today:
        raise InvalidInput(f"Tanggal kunjungan {visit_date:%Y-%m-%d} sudah lewat (hari ini "
                           f"{today:%Y-%m-%d}).", errors={"visit_date": ["sudah lewat"]})
    if not 1 <= days <= MAX_DAYS:
        raise InvalidInput(f"Lama kunjungan harus 1-{MAX_DAYS} hari.",
                           errors={"days": [f"harus 1-{MAX_DAYS}"]})
    _usable_device(device_id)  # a clear error before any lock is taken
    lock_devices({device_id})
    _usable_device(device_id)  # revoked meanwhile? the lock makes this answer final
    # Plans for one desa take turns (on PostgreSQL two planners with different devices would
    # otherwise both pass the overlap check): a no-op UPDATE locks the desa's region row.
    db.session.execute(update(Region).where(Region.kode == desa_kode)
                       .values(nama=Region.nama).execution_options(synchronize_session=False))
    _no_overlap(desa_kode, visit_date, days)
    visit_id, now = str(uuid.uuid4()), utcnow()
    db.session.add(OutreachVisit(
        id=visit_id, desa_kode=desa_kode, visit_date=visit_date, days=days, team=team,
        device_id=device_id, state=PLANNED, target_count=0, created_by=actor.username,
        created_at=now))
    db.session.flush()
    count = _snapshot_targets(visit_id, desa_kode, visit_date + dt.timedelta(days=days - 1))
    db.session.execute(update(OutreachVisit).where(OutreachVisit.id == visit_id)
                       .values(target_count=count))
    _feed(device_id, ChangeKind.OUTREACH_ASSIGNED, visit_id, PLANNED, None, now)
    audit.append([audit.Event(
        actor=actor.audit_name, action="outreach_plan", to_state=PLANNED,
        detail={"visit_id": visit_id, "desa_kode": desa_kode, "visit_date": str(visit_date),
                "days": days, "team": team, "device_id": device_id, "targets": count})], at=now)
    db.session.commit()
    return visit_info(visit_id)


def close_visit(visit_id: str, *, actor: Actor, cancel: bool = False) -> VisitInfo:
    """Close (or cancel) a planned visit; the device hears it and drops the target list."""
    _require(actor, "membatalkan kunjungan" if cancel else "menutup kunjungan")
    visit = _visit(visit_id)
    if visit.state != PLANNED:
        raise Conflict(f"Kunjungan {visit_id} sudah {VISIT_STATE_LABELS[visit.state]}.")
    lock_devices({visit.device_id})
    state, now = (CANCELLED if cancel else CLOSED), utcnow()
    moved = db.session.execute(
        update(OutreachVisit)
        .where(OutreachVisit.id == visit_id, OutreachVisit.state == PLANNED)
        .values(state=state, closed_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    if moved != 1:  # closed by a colleague between the read and the lock
        db.session.rollback()
        raise Conflict(f"Kunjungan {visit_id} baru saja ditutup oleh pengguna lain.")
    _feed(visit.device_id, ChangeKind.OUTREACH_CLOSED, visit_id, state, None, now)
    audit.append([audit.Event(
        actor=actor.audit_name, action="outreach_cancel" if cancel else "outreach_close",
        from_state=PLANNED, to_state=state, detail={"visit_id": visit_id})], at=now)
    db.session.commit()
    return visit_info(visit_id)




def progress_document(progress: VisitProgress) -> dict[str, Any]:
    """A visit's progress for the office API and ``outreach-show --json``; ``percent`` a number.

    Dates and dataclasses are left as they are: ``server.http.present.jsonable`` makes them JSON.
    """
    percent = progress.percent
    return {"visit": progress.visit, "done": progress.done, "records": progress.records,
            "percent": None if percent is None else float(percent),
            "targets": progress.targets}


def targets_for_device(visit_id: str, device_id: str) -> tuple[VisitInfo, list[dict[str, Any]]]:
    """The visit and its target list, for the device the visit is assigned to only."""
    visit = _visit(visit_id)
    if visit.device_id != device_id:
        raise NotAssigned("Kunjungan ini ditugaskan ke perangkat lain.")
    if visit.state != PLANNED:
        raise VisitClosed(f"Kunjungan ini sudah {VISIT_STATE_LABELS[visit.state]}; daftar "
                          "sasarannya tidak dibagikan lagi.")
    info = visit_info(visit_id)
    columns = [getattr(Resident, name) for name in TARGET_FIELDS]
    rows = db.session.execute(
        select(*columns)
        .join(OutreachTarget, OutreachTarget.nik == Resident.nik)
        .where(OutreachTarget.visit_id == visit_id)
        .order_by(Resident.nama, Resident.nik)
    ).all()
    db.session.commit()
    return info, [dict(zip(TARGET_FIELDS, row, strict=True)) for row in rows]


def _visit(visit_id: str) -> OutreachVisit:
    visit = db.session.get(OutreachVisit, visit_id) if len(visit_id) <= 36 else None
    if visit is None:
        raise NotFound(f"Kunjungan {visit_id[:36]} tidak ditemukan.")
    return visit


def _require(actor: Actor, what: str) -> None:
    if actor.role not in PLANNERS:
        raise Forbidden(f"Peran '{actor.role}' tidak boleh {what}; hanya supervisor dan admin.")


def _known_desa(kode: str) -> str:
    """``kode`` when it names a desa of the region table, else a clear refusal."""
    kode = kode.strip()
    if not DESA_KODE.match(kode):
        raise InvalidInput(f"Kode desa '{kode[:20]}' tidak valid; tulis seperti 61.09.04.2006.",
                           errors={"desa_kode": ["format salah"]})
    level = db.session.execute(select(Region.level).where(Region.kode == kode)).scalar()
    if level != DESA:
        raise InvalidInput(f"Desa '{kode}' tidak ada di tabel wilayah.",
                           errors={"desa_kode": ["tidak dikenal"]})
    return kode


def _team(team: str) -> str:
    team = " ".join(team.split())
    if not 1 <= len(team) <= MAX_TEAM:
        raise InvalidInput(f"Nama tim harus 1-{MAX_TEAM} karakter.",
                           errors={"team": [f"harus 1-{MAX_TEAM} karakter"]})
    return team


def _usable_device(device_id: str) -> None:
    revoked = db.session.execute(
        select(Device.revoked_at.is_not(None)).where(Device.id == device_id)
    ).scalar()
    if revoked is None:
        raise InvalidInput(f"Perangkat '{device_id[:36]}' tidak dikenal.",
                           errors={"device_id": ["tidak dikenal"]})
    if revoked:
        raise InvalidInput(f"Perangkat '{device_id}' sudah dicabut aksesnya.",
                           errors={"device_id": ["sudah dicabut"]})


def _no_overlap(desa_kode: str, visit_date: dt.date, days: int) -> None:
    """Refuse a second planned visit to one desa on overlapping days (two lists, one crowd)."""
    ends_on = visit_date + dt.timedelta(days=days - 1)
    for other in db.session.execute(
        select(OutreachVisit).where(OutreachVisit.desa_kode == desa_kode,
                                    OutreachVisit.state == PLANNED,
                                    OutreachVisit.visit_date <= ends_on)
    ).scalars():
        if other.visit_date + dt.timedelta(days=other.days - 1) >= visit_date:
            raise Conflict(f"Desa ini sudah punya kunjungan terencana {other.visit_date:%Y-%m-%d}"
                           f" (tim {other.team}, kunjungan {other.id}).")


def _snapshot_targets(visit_id: str, desa_kode: str, last_day: dt.date) -> int:
    """Copy the desa's unrecorded residents wajib KTP by the visit's last day; return how many.

    Wajib on the last day: a resident who turns 17 while the team is there is on the list.
    """
    db.session.execute(insert(OutreachTarget).from_select(
        ["visit_id", "nik"],
        select(literal(visit_id), Resident.nik)
        .where(Resident.desa_kode == desa_kode, is_wajib(last_day), is_unrecorded()),
    ))
    return int(db.session.execute(
        select(func.count()).where(OutreachTarget.visit_id == visit_id)
    ).scalar_one())


def _feed(device_id: str, kind: ChangeKind, visit_id: str, state: str, reason: str | None,
          now: dt.datetime) -> None:
    """One pull-feed entry about a visit (the caller holds the device's lock)."""
    db.session.add(Change(device_id=device_id, kind=kind.value, record_id=None, state=state,
                          visit_id=visit_id, reason=reason, created_at=now))
