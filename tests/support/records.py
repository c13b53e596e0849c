"""Records as a device pushes them, and the residents the registry must hold for them.

``build_record`` makes a valid sealed record of a woman (or a man) of Tembaga (``DESA``) with
a NIK consistent with her birth date (``nik_for``); ``add_residents`` puts the people of some
records in the population registry, so the reconciliation checks find them.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from flask import Flask

from server.core.extensions import db as database
from server.core.models import Resident
from server.core.timeutil import utcnow
from shared import vocab
from shared.canonical import seal

DESA = "61.09.04.2006"  # Tembaga, Kecamatan Nanga Mahap


def nik_for(birth: dt.date, sex: str, serial: int = 1, kecamatan: str = "610904") -> str:
    """A NIK consistent with a birth date and sex (women: day + 40)."""
    day = birth.day + (40 if sex == "PEREMPUAN" else 0)
    return f"{kecamatan}{day:02d}{birth:%m%y}{serial:04d}"


def build_record(seq: int, *, attachments: int = 3, sex: str = "PEREMPUAN",
                 birth: dt.date = dt.date(1990, 8, 17), serial: int | None = None,
                 payload: dict[str, Any] | None = None, sealed: bool = True,
                 **fields: Any) -> dict[str, Any]:
    """A valid record (sealed unless ``sealed=False``); ``payload``/``fields`` override parts."""
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
    return seal(record) if sealed else record


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
