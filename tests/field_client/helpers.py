"""Test data for the field client: valid card payloads and small biometric files."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from tests.factories import BASE_PAYLOAD, payload

__all__ = ["BASE_PAYLOAD", "payload", "person", "states", "write_file"]

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
