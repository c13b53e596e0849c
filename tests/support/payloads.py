"""Test data every suite shares: the design's example resident as a valid card payload, and the
design's example record around it (as the shared record schema knows it)."""

from __future__ import annotations

from typing import Any

from shared.canonical import with_hash

BASE_PAYLOAD: dict[str, str] = {
    "nik": "6109045708900001",
    "nama": "MARIA GORETTI",
    "tempat_lahir": "SEKADAU",
    "tanggal_lahir": "1990-08-17",
    "jenis_kelamin": "PEREMPUAN",
    "golongan_darah": "O",
    "alamat": "DUSUN TEMBAGA",
    "rt": "001",
    "rw": "002",
    "desa_kode": "61.09.04.2006",
    "agama": "KATHOLIK",
    "status_perkawinan": "KAWIN",
    "pekerjaan": "PETANI/PEKEBUN",
    "kewarganegaraan": "WNI",
}
#: The SHA-256 of the example record's photo.
SHA = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"


def payload(**changes: Any) -> dict[str, Any]:
    """A valid payload (a woman born 17-08-1990 in Nanga Mahap) with ``changes`` applied."""
    data: dict[str, Any] = dict(BASE_PAYLOAD)
    data.update(changes)
    return data


def record(**changes: Any) -> dict[str, Any]:
    """The design's example record (one photo, one finger excused), hashed after ``changes``."""
    base: dict[str, Any] = {
        "id": "0193a4f2-7c1e-7d2a-9b1e-2f4c8a1d5e60",
        "seq": 42,
        "type": "enrollment",
        "captured_at": "2026-11-27T03:12:45Z",
        "operator": "op.suryadi",
        "payload": payload(),
        "attachments": [
            {"role": "photo", "sha256": SHA, "size": 30211, "media_type": "image/jpeg"}
        ],
        "exceptions": [{"role": "finger_l_little", "reason": "amputated"}],
    }
    base.update(changes)
    return with_hash(base)
