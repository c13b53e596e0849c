"""Field operators: created by the office, let in offline by their team's laptops with a PIN.

The office creates an operator for a team and hands over the generated eight-digit PIN once.
Nobody keeps the PIN: the server keeps the key it derives (``shared.pin``, Argon2id), sealed to
the office key, and wraps each team device's data key (DK) with it. Every device of the team
gets one wrap per active operator in its profile (:func:`profile_for_device`) at each sync, so
the operator logs in on the laptop without a network by unwrapping DK with the PIN. A PIN reset
or a disabled operator reaches the devices at their next sync; a stolen laptop is revoked and
its team's PINs reset.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from server.accounts import devices
from server.core import audit, keyring
from server.core.errors import Conflict, InvalidInput, NotFound
from server.core.extensions import db
from server.core.models import Device, Operator, OutreachVisit, Region
from server.core.models.outreach import PLANNED
from server.core.models.region import DESA
from server.core.timeutil import isoformat_z, utcnow
from shared import datakey
from shared.canonical import canonical_json
from shared.pin import KdfCost, derive_key, generate_pin, new_salt, wrap_key
from shared.schemas import OPERATOR
from shared.sealing import b64, unb64

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
    operator = Operator(username=username, nama=nama, team=team, active=True, created_at=now,
                        pin_changed_at=now)
    _set_pin_key(operator, pin)
    db.session.add(operator)
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
    _set_pin_key(operator, pin)
    operator.pin_changed_at = now
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
    """The device's profile (``shared.schemas.DeviceProfileSchema``).

    In clear: one wrap of the device's data key per active operator with a PIN key (and that
    key's salt and Argon2id cost), the office key records are sealed to, and ``version``.
    Under the data key (``sealed``): the team, its kecamatan, the desa the form offers, and the
    operators' names.
    """
    data_key = devices.device_data_key(device)
    rows = db.session.execute(
        select(Operator).where(Operator.team == device.team, Operator.active.is_(True))
        .order_by(Operator.username)).scalars().all()
    ring = keyring.current()
    with_keys = [op for op in rows if op.pin_key_sealed is not None]
    content = {
        "team": device.team,
        "kecamatan": _kecamatan(device.kecamatan_kode),
        "desa": _desa(device),
        "operators": [{"username": op.username, "nama": op.nama} for op in with_keys],
    }
    wraps = [{"username": op.username, "salt": op.pin_salt,
              "opslimit": op.kdf_opslimit, "memlimit": op.kdf_memlimit,
              "wrap": b64(wrap_key(data_key, ring.open(str(op.pin_key_kid),
                                                       unb64(str(op.pin_key_sealed)))))}
             for op in with_keys]
    office = ring.sealing
    # The version changes with what the laptop holds, not with the fresh nonces of each answer.
    version = hashlib.sha256(canonical_json({
        "content": content, "office_key": office.kid, "data_key": device.data_key_kid,
        "pins": [(op.username, isoformat_z(op.pin_changed_at)) for op in with_keys],
    })).hexdigest()
    db.session.commit()
    return {"version": version, "server_time": isoformat_z(utcnow()),
            "office_key": {"kid": office.kid, "public": b64(office.public)},
            "operators": wraps, "sealed": b64(datakey.encrypt_json(data_key, content))}


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


def _set_pin_key(operator: Operator, pin: str) -> None:
    """Keep the key ``pin`` derives (sealed to the office key), never the PIN."""
    cost: KdfCost = current_app.config["PIN_KDF_COST"]
    salt = new_salt()
    kid, sealed = keyring.current().seal(derive_key(pin, salt, cost))
    operator.pin_salt, operator.pin_key_kid, operator.pin_key_sealed = b64(salt), kid, b64(sealed)
    operator.kdf_opslimit, operator.kdf_memlimit = cost.opslimit, cost.memlimit


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
