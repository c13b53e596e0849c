"""Records as a device pushes them, and the residents the registry must hold for them.

``build_record`` makes a valid record (with its ``record_sha256``) of a woman (or a man) of
Tembaga (``DESA``) with a NIK consistent with her birth date (``nik_for``); ``envelope`` seals a
record to the office key (``office_key``) into the push item of protocol 2, as the laptop sends
it; ``add_residents`` puts the people of some records in the population registry, so the
reconciliation checks find them.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import uuid
from dataclasses import dataclass
from typing import Any

from flask import Flask

from server.core import keyring
from server.core.extensions import db as database
from server.core.models import Resident
from server.core.timeutil import utcnow
from shared import vocab
from shared.canonical import with_hash
from shared.sealing import b64, seal, seal_record

DESA = "61.09.04.2006"  # Tembaga, Kecamatan Nanga Mahap


def nik_for(birth: dt.date, sex: str, serial: int = 1, kecamatan: str = "610904") -> str:
    """A NIK consistent with a birth date and sex (women: day + 40)."""
    day = birth.day + (40 if sex == "PEREMPUAN" else 0)
    return f"{kecamatan}{day:02d}{birth:%m%y}{serial:04d}"


def build_record(seq: int, *, attachments: int = 3, sex: str = "PEREMPUAN",
                 birth: dt.date = dt.date(1990, 8, 17), serial: int | None = None,
                 payload: dict[str, Any] | None = None, hashed: bool = True,
                 **fields: Any) -> dict[str, Any]:
    """A valid record (with its ``record_sha256`` unless ``hashed=False``); ``payload`` and
    ``fields`` override parts."""
    body: dict[str, Any] = {
        "nik": nik_for(birth, sex, serial if serial is not None else seq % 9999 or 1),
        "nama": "MARIA GORETTI" if sex == "PEREMPUAN" else "YOHANES BOSCO",
        "tempat_lahir": "SEKADAU", "tanggal_lahir": birth.isoformat(), "jenis_kelamin": sex,
        "golongan_darah": "O", "alamat": "DUSUN TEMBAGA", "rt": "001", "rw": "002",
        "desa_kode": DESA, "agama": "KATHOLIK", "status_perkawinan": "KAWIN",
        "pekerjaan": "PETANI/PEKEBUN", "kewarganegaraan": "WNI",
    }
    body.update(payload or {})
    record: dict[str, Any] = {
        "id": str(uuid.uuid4()), "seq": seq, "type": "enrollment",
        "captured_at": "2026-11-27T03:12:45Z", "operator": "op.suryadi", "payload": body,
        "attachments": [
            {"role": role, "sha256": f"{seq:032x}{index:032x}", "size": 20_000 + index,
             "media_type": "image/jpeg"}
            for index, role in enumerate(vocab.BIOMETRIC_ROLES[:attachments])
        ],
        "exceptions": [],
    }
    record.update(fields)
    return with_hash(record) if hashed else record


@dataclass(frozen=True)
class OfficeKey:
    """The office key a laptop seals to: its id and public key (registration hands it over)."""

    kid: str
    public: bytes


def office_key(app: Flask) -> OfficeKey:
    """The app's current office key."""
    with app.app_context():
        current = keyring.current().sealing
    return OfficeKey(current.kid, current.public)


def seal_any(public: bytes, record: Any) -> bytes:
    """``record`` sealed as the laptop seals it (``seal_record``: gzipped canonical JSON); a
    record that canonical JSON cannot encode (a lone surrogate) as ASCII-escaped JSON instead,
    so such a record can still reach the server's checks."""
    try:
        return seal_record(public, record)
    except UnicodeEncodeError:
        text = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
        return seal(public, gzip.compress(text.encode("ascii"), mtime=0))


def envelope(record: Any, key: OfficeKey, *, sealed: bytes | None = None,
             **override: Any) -> dict[str, Any]:
    """The push item of protocol 2 for ``record``: ``{id, seq, key_id, sealed}`` with the
    envelope's ``id`` and ``seq`` taken from the record, ``sealed`` the base64 of the record
    sealed to ``key`` (or of the given ``sealed`` bytes); ``override`` replaces envelope keys."""
    item = {"id": record.get("id") if isinstance(record, dict) else None,
            "seq": record.get("seq") if isinstance(record, dict) else None,
            "key_id": key.kid,
            "sealed": b64(seal_any(key.public, record) if sealed is None else sealed)}
    item.update(override)
    return item


def add_residents(app: Flask, *records: dict[str, Any]) -> None:
    """Put the residents of ``records`` in the population registry, so their checks pass."""
    with app.app_context():
        for record in records:
            body = record["payload"]
            database.session.merge(Resident(
                nik=body["nik"], nama=body["nama"], jenis_kelamin=body["jenis_kelamin"],
                tanggal_lahir=dt.date.fromisoformat(body["tanggal_lahir"]),
                desa_kode=body["desa_kode"], recorded=False, updated_at=utcnow()))
        database.session.commit()
