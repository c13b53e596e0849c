"""Test data every suite shares: the design's example resident as a valid card payload."""

from __future__ import annotations

from typing import Any

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


def payload(**changes: Any) -> dict[str, Any]:
    """A valid payload (a woman born 17-08-1990 in Nanga Mahap) with ``changes`` applied."""
    data: dict[str, Any] = dict(BASE_PAYLOAD)
    data.update(changes)
    return data
