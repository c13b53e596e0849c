"""Test data for the field client: valid card payloads and small biometric files."""

from __future__ import annotations

import sqlite3
from pathlib import Path
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


def person(index: int, **changes: Any) -> dict[str, Any]:
    """A distinct valid payload: the NIK serial is ``index`` (1-9999)."""
    return payload(**{"nik": f"610904570890{index:04d}", **changes})


def write_file(path: Path, size: int = 2048, seed: int = 1) -> Path:
    """A stand-in biometric file of ``size`` deterministic bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes((seed * 31 + i * 7) % 256 for i in range(size)))
    return path


def states(outbox_path: Path) -> dict[str, int]:
    """Records per state, read with a separate connection (as another process would)."""
    with sqlite3.connect(outbox_path) as conn:
        return dict(conn.execute("SELECT state, count(*) FROM record GROUP BY state").fetchall())
