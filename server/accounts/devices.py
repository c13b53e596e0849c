"""Device registration, authentication, revocation and sequence progress."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from typing import Any

from flask import current_app
from sqlalchemy import func, select, union, update

from server.core import keyring
from server.core.errors import (
    InvalidInput,
    NotFound,
    RegistrationCodeExpired,
    RegistrationCodeInvalid,
    RegistrationCodeUsed,
    TokenExpired,
    Unauthorized,
)
from server.core.extensions import db
from server.core.models import Device, Enrollment, Region, RegistrationCode, RejectedPush
from server.core.models.region import KECAMATAN
from server.core.timeutil import as_utc, utcnow
from server.core.tokens import (
    hash_token,
    new_registration_code,
    new_token,
    normalise_registration_code,
)
from shared import datakey
from shared.protocol import MAX_GAP_RANGES
from shared.sealing import b64, unb64

log = logging.getLogger(__name__)

#: How stale ``last_seen_at`` may get: one write a minute at most, not one per request.
LAST_SEEN_RESOLUTION = dt.timedelta(minutes=1)
#: Days a device token may go unused before it expires (``JEMPUT_DEVICE_TOKEN_IDLE_DAYS``).
DEFAULT_TOKEN_IDLE_DAYS = 90
MAX_TEAM = 80
CODE_USED = "Kode ini sudah dipakai. Minta kode baru ke kantor."
MAX_NAME = 80


def create_registration_code(
    team: str, ttl: dt.timedelta = dt.timedelta(hours=24), created_by: str | None = None,
    kecamatan_kode: str | None = None,
) -> str:
    """Create a one-time registration code for ``team``; return it in plain text (only once).

    ``kecamatan_kode`` (``61.09.04``) is the area the team is sent to: the device registered
    with the code carries it, and its records from desa elsewhere become a finding.
    """
    team = " ".join(team.split())
    if not 1 <= len(team) <= MAX_TEAM:
        raise InvalidInput(f"Nama tim harus 1-{MAX_TEAM} karakter.")
    if ttl <= dt.timedelta(0):
        raise InvalidInput("Masa berlaku kode harus lebih dari nol.")
    if kecamatan_kode is not None:
        kecamatan_kode = _known_kecamatan(kecamatan_kode)
    code = new_registration_code()
    now = utcnow()
    db.session.add(
        RegistrationCode(
            code_hash=hash_token(normalise_registration_code(code)),
            team=team,
            created_at=now,
            expires_at=now + ttl,
            created_by=created_by,
            kecamatan_kode=kecamatan_kode,
        )
    )
    db.session.commit()
    return code


def _known_kecamatan(kode: str) -> str:
    """``kode`` when it is a kecamatan of the region table, else a clear refusal."""
    kode = kode.strip()
    level = db.session.execute(select(Region.level).where(Region.kode == kode)).scalar()
    if level != KECAMATAN:
        raise InvalidInput(
            f"Kecamatan '{kode}' tidak ada di tabel wilayah. Tulis kodenya seperti 61.09.04 "
            "(impor tabel wilayah bila belum ada)."
        )
    return kode


def register_device(code: str, name: str, first_seq: int = 1,
                    previous_token: str | None = None) -> tuple[Device, str]:
    """Spend a registration code on a new device; return the device and its plain token.

    ``first_seq`` is the lowest sequence number the device will send under this registration;
    gaps are counted from there. ``previous_token``, the token the laptop held before (revoked
    or expired alike), links the new registration to that one: the same laptop.
    """
    now = utcnow()
    found = _usable_code(code, now)
    token = new_token()
    device_id = str(uuid.uuid4())
    previous = None if previous_token is None else db.session.execute(
        select(Device.id).where(Device.token_hash == hash_token(previous_token))
    ).scalar_one_or_none()
    device = Device(
        id=device_id,
        name=" ".join(name.split())[:MAX_NAME] or f"perangkat-{device_id[:8]}",
        team=found.team,
        kecamatan_kode=found.kecamatan_kode,
        token_hash=hash_token(token),
        created_at=now,
        first_seq=first_seq,
        previous_device_id=previous,
    )
    db.session.add(device)
    device_data_key(device)  # made now, sealed to the office key: the profile wraps it
    db.session.flush()
    # The conditional UPDATE is the race guard: of two concurrent requests only one matches.
    spent = db.session.execute(
        update(RegistrationCode)
        .where(RegistrationCode.id == found.id, RegistrationCode.used_at.is_(None))
        .values(used_at=now, device_id=device_id)
        .execution_options(synchronize_session=False)
    )
    if spent.rowcount != 1:  # type: ignore[attr-defined]
        db.session.rollback()
        raise RegistrationCodeUsed(CODE_USED)
    db.session.commit()
    log.info("Device %s registered for team %s", device_id, device.team)
    return device, token


def _usable_code(code: str, now: dt.datetime) -> RegistrationCode:
    """The unused, unexpired registration code ``code``, or the reason it cannot be used."""
    found = db.session.execute(
        select(RegistrationCode).where(
            RegistrationCode.code_hash == hash_token(normalise_registration_code(code))
        )
    ).scalar_one_or_none()
    if found is None:
        raise RegistrationCodeInvalid("Kode pendaftaran tidak dikenal. Periksa penulisannya.")
    if found.used_at is not None:
        raise RegistrationCodeUsed(CODE_USED)
    if as_utc(found.expires_at) <= now:
        raise RegistrationCodeExpired("Kode ini sudah kedaluwarsa. Minta kode baru ke kantor.")
    return found


def revoke_device(device_id: str) -> None:
    """Revoke a device's token for good; revoking twice is harmless."""
    device = db.session.get(Device, device_id)
    if device is None:
        raise NotFound(f"Perangkat {device_id} tidak ditemukan.")
    if device.revoked_at is None:
        device.revoked_at = utcnow()
        log.info("Device %s revoked", device_id)
    db.session.commit()


def authenticate_device(token: str, *, may_be_expired: bool = False) -> Device:
    """The live device holding ``token``; raise :class:`Unauthorized` otherwise.

    A token unused for longer than ``JEMPUT_DEVICE_TOKEN_IDLE_DAYS`` has expired
    (:class:`TokenExpired`) unless ``may_be_expired``: what a laptop captured before is never
    stranded (it may still push it), but the expired token reads nothing any more.
    """
    device = db.session.execute(
        select(Device).where(Device.token_hash == hash_token(token))
    ).scalar_one_or_none()
    if device is None:
        raise Unauthorized("Token perangkat tidak dikenal.", error="invalid_token")
    if device.revoked_at is not None:
        raise Unauthorized("Perangkat ini sudah dicabut aksesnya.", error="invalid_token")
    now = utcnow()
    if now - as_utc(device.last_seen_at or device.created_at) > token_idle_limit():
        if may_be_expired:
            return device  # delivering its queue does not make an expired token young again
        db.session.rollback()
        raise TokenExpired(
            f"Token perangkat ini tidak dipakai lebih dari {token_idle_limit().days} hari dan "
            "kedaluwarsa. Rekaman di antrean tetap dapat dikirim; daftarkan laptop lagi dengan "
            "kode baru dari kantor (jemput-field register --force) untuk sinkron penuh.",
            error="invalid_token")
    if device.last_seen_at is None or now - as_utc(device.last_seen_at) >= LAST_SEEN_RESOLUTION:
        device.last_seen_at = now
        db.session.commit()
    return device


def token_idle_limit() -> dt.timedelta:
    """How long a device token may go unused before it expires."""
    days = current_app.config.get("JEMPUT_DEVICE_TOKEN_IDLE_DAYS") or DEFAULT_TOKEN_IDLE_DAYS
    return dt.timedelta(days=float(days))


def device_progress(device_id: str) -> dict[str, Any]:
    """``{last_seq, received, gaps}``: gaps are seq ranges that never arrived, oldest first."""
    first_seq, last_seq, received = db.session.execute(
        select(Device.first_seq, Device.last_seq, Device.received_count)
        .where(Device.id == device_id)
    ).one()
    # Every seq from 1 to last_seq stored means no gap: skip the scan in the common case.
    gaps = _gaps(device_id, first_seq) if first_seq > 1 or received < last_seq else []
    return {"last_seq": last_seq, "received": received, "gaps": gaps}


def _gaps(device_id: str, first_seq: int) -> list[list[int]]:
    """Missing seq ranges ``[start, end]`` (inclusive) from ``first_seq``: never received."""
    seen = union(
        select(Enrollment.seq.label("seq"))
        .where(Enrollment.device_id == device_id, Enrollment.seq >= first_seq),
        select(RejectedPush.seq.label("seq"))
        .where(RejectedPush.device_id == device_id, RejectedPush.seq >= first_seq),
    ).subquery()
    previous = func.lag(seen.c.seq, 1, first_seq - 1).over(order_by=seen.c.seq).label("previous")
    ordered = select(seen.c.seq, previous).subquery()
    rows = db.session.execute(
        select(ordered.c.previous + 1, ordered.c.seq - 1)
        .where(ordered.c.seq - ordered.c.previous > 1)
        .order_by(ordered.c.seq)
        .limit(MAX_GAP_RANGES)
    ).all()
    return [[int(start), int(end)] for start, end in rows]


def device_data_key(device: Device) -> bytes:
    """The device's data key, made (and sealed to the office key) the first time it is asked."""
    ring = keyring.current()
    if device.data_key_sealed is None or device.data_key_kid is None:
        kid, sealed = ring.seal(datakey.new_data_key())
        device.data_key_kid, device.data_key_sealed = kid, b64(sealed)
        db.session.flush()
    return ring.open(str(device.data_key_kid), unb64(str(device.data_key_sealed)))
