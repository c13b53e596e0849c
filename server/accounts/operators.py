"""Field operators: created by the office, let in offline by their team's laptops with a PIN.

The office creates an operator for a team and hands over the generated six-digit PIN once; the
server keeps only its slow hash (``shared.pin``). Every device of the team gets the hashes of
the team's active operators in its profile (:func:`profile_for_device`) at each sync, so the
operator can log in on the laptop without a network. A PIN reset or a disabled operator reaches
the devices at their next sync; a stolen laptop is revoked and its team's PINs reset.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from server.core import audit
from server.core.errors import Conflict, InvalidInput, NotFound
from server.core.extensions import db
from server.core.models import Device, Operator, OutreachVisit, Region
from server.core.models.outreach import PLANNED
from server.core.models.region import DESA
from server.core.timeutil import isoformat_z, utcnow
from shared.canonical import canonical_json
from shared.pin import generate_pin, hash_pin
from shared.schemas import OPERATOR

log = logging.getLogger(__name__)

MAX_USERNAME = 64
MAX_NAMA = 120
MAX_TEAM = 80  # as a device's team (server/core/models/device.py)
CLI_ACTOR = "cli"
LISTING_FIELDS = ("username", "nama", "team", "active", "created_at", "pin_changed_at")


def create_operator(username: str, team: str, nama: str | None = None, *,
                    actor: str = CLI_ACTOR) -> str:
    """Create an active operator of ``team``; return the generated PIN (shown only this once)."""
    username, team = _username(username), _team(team)
    nama = _nama(username if nama is None else nama)
    pin, now = generate_pin(), utcnow()
    db.session.add(Operator(username=username, nama=nama, team=team, pin_hash=_hash(pin),
                            active=True, created_at=now, pin_changed_at=now))
    try:
        db.session.flush()
    except IntegrityError as exc:
        db.session.rollback()
        raise Conflict(f"Operator '{username}' sudah ada.",
                       errors={"username": ["sudah dipakai"]}) from exc
    audit.append([audit.Event(actor=actor, action="operator_add",
                              detail={"username": username, "team": team})], at=now)
    db.session.commit()
    log.info("Operator %s created for team %s", username, team)
    return pin


def reset_pin(username: str, *, actor: str = CLI_ACTOR) -> str:
    """Give the operator a new generated PIN (the old one stops working at the next sync)."""
    operator = _operator(username)
    pin, now = generate_pin(), utcnow()
    operator.pin_hash, operator.pin_changed_at = _hash(pin), now
    audit.append([audit.Event(actor=actor, action="operator_pin_reset",
                              detail={"username": operator.username})], at=now)
    db.session.commit()
    log.info("Operator %s PIN reset", operator.username)
    return pin


def set_active(username: str, active: bool, *, actor: str = CLI_ACTOR) -> bool:
    """Enable or disable an operator; return False when it already was so (nothing changed)."""
    operator = _operator(username)
    if operator.active == active:
        db.session.commit()
        return False
    operator.active = active
    audit.append([audit.Event(actor=actor,
                              action="operator_enable" if active else "operator_disable",
                              detail={"username": operator.username})])
    db.session.commit()
    log.info("Operator %s %s", operator.username, "enabled" if active else "disabled")
    return True


def listing(team: str | None = None) -> list[dict[str, Any]]:
    """Operators (of ``team``, or all) by team and username, without their PIN hashes."""
    query = select(*(getattr(Operator, name) for name in LISTING_FIELDS))
    if team is not None:
        query = query.where(Operator.team == _team(team))
    rows = db.session.execute(query.order_by(Operator.team, Operator.username)).all()
    db.session.commit()
    return [dict(zip(LISTING_FIELDS, row, strict=True)) for row in rows]


def operator_info(username: str) -> dict[str, Any]:
    """One operator as :func:`listing` shows it; :class:`NotFound` when unknown."""
    operator = _operator(username)
    info = {name: getattr(operator, name) for name in LISTING_FIELDS}
    db.session.commit()
    return info


def team_devices(team: str) -> int:
    """How many unrevoked devices ``team`` has (an operator of a team without one is unusable)."""
    rows = db.session.execute(
        select(Device.id).where(Device.team == _team(team), Device.revoked_at.is_(None))
    ).all()
    db.session.commit()
    return len(rows)


def profile_for_device(device: Device) -> dict[str, Any]:
    """The device's profile (shared.schemas.DeviceProfileSchema): its operators and desa."""
    operators = [
        {"username": username, "nama": nama, "pin_hash": pin_hash}
        for username, nama, pin_hash in db.session.execute(
            select(Operator.username, Operator.nama, Operator.pin_hash)
            .where(Operator.team == device.team, Operator.active.is_(True))
            .order_by(Operator.username)
        ).all()
    ]
    document: dict[str, Any] = {
        "team": device.team,
        "kecamatan": _kecamatan(device.kecamatan_kode),
        "desa": _desa(device),
        "operators": operators,
    }
    db.session.commit()
    document["version"] = hashlib.sha256(canonical_json(document)).hexdigest()
    document["server_time"] = isoformat_z(utcnow())
    return document


def _kecamatan(kode: str | None) -> dict[str, str] | None:
    if kode is None:
        return None
    nama = db.session.execute(select(Region.nama).where(Region.kode == kode)).scalar()
    return {"kode": kode, "nama": nama or kode}


def _desa(device: Device) -> list[dict[str, str]]:
    """The desa of the device's kecamatan and of its planned visits, by kode, each once."""
    found: dict[str, str] = {}
    if device.kecamatan_kode is not None:
        found.update((kode, nama) for kode, nama in db.session.execute(
            select(Region.kode, Region.nama)
            .where(Region.level == DESA, Region.kode.startswith(device.kecamatan_kode + "."))
        ))
    found.update((kode, nama) for kode, nama in db.session.execute(
        select(Region.kode, Region.nama)
        .join(OutreachVisit, OutreachVisit.desa_kode == Region.kode)
        .where(OutreachVisit.device_id == device.id, OutreachVisit.state == PLANNED)
    ))
    return [{"kode": kode, "nama": found[kode]} for kode in sorted(found)]


def _hash(pin: str) -> str:
    return hash_pin(pin, iterations=int(current_app.config["PIN_ITERATIONS"]))


def _operator(username: str) -> Operator:
    name = username.strip().lower()
    operator = db.session.execute(
        select(Operator).where(Operator.username == name)
    ).scalar_one_or_none() if len(name) <= MAX_USERNAME else None
    if operator is None:
        db.session.rollback()
        raise NotFound(f"Operator '{name[:MAX_USERNAME]}' tidak ditemukan.")
    return operator


def _username(username: str) -> str:
    name = username.strip().lower()
    if not 1 <= len(name) <= MAX_USERNAME or not OPERATOR.fullmatch(name):
        raise InvalidInput(
            f"Nama pengguna operator harus 1-{MAX_USERNAME} karakter: huruf, angka, titik, "
            "garis bawah atau strip, diawali huruf atau angka (mis. op.suryadi).",
            errors={"username": ["tidak valid"]})
    return name


def _team(team: str) -> str:
    team = " ".join(team.split())
    if not 1 <= len(team) <= MAX_TEAM:
        raise InvalidInput(f"Nama tim harus 1-{MAX_TEAM} karakter.",
                           errors={"team": ["tidak valid"]})
    return team


def _nama(nama: str) -> str:
    nama = " ".join(nama.split())
    if not 1 <= len(nama) <= MAX_NAMA or not nama.isprintable():
        raise InvalidInput(f"Nama operator harus 1-{MAX_NAMA} karakter yang dapat dicetak.",
                           errors={"nama": ["tidak valid"]})
    return nama
