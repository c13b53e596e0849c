"""Test data for the field client: valid card payloads, small biometric files, outbox reads."""

from __future__ import annotations

import datetime as dt
import hashlib
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from field_client.capture.record import SavedRecord
from field_client.client import FieldClient
from field_client.store import records
from shared.vocab import BIOMETRIC_ROLES
from tests.support.keys import DATA_KEY, open_sealed_file, open_sealed_record
from tests.support.payloads import payload

#: The data key the tests' operators unlock (pass it as ``data_key=DK``).
DK = DATA_KEY

#: A suffix each role accepts, and a size above its floor (small: tests write many of them).
BIOMETRIC_KINDS = {
    "photo": (".jpg", 3000),
    "signature": (".png", 1200),
    "iris_left": (".jp2", 2000),
    "iris_right": (".jp2", 2001),
}
FINGER_KIND = (".wsq", 1500)


def person(index: int, **changes: Any) -> dict[str, Any]:
    """A distinct valid payload: the NIK serial is ``index`` (1-9999)."""
    return payload(**{"nik": f"610904570890{index:04d}", **changes})


def write_file(path: Path, size: int = 2048, seed: int = 1) -> Path:
    """A stand-in biometric file of ``size`` deterministic bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_file_bytes(size, seed))
    return path


def biometric_files(
    folder: Path, seed: int = 0, skip: Iterable[str] = ()
) -> dict[str, Path]:
    """A complete recording's files (all 14 roles but ``skip``) written into ``folder``.

    Every role gets different bytes; the same ``seed`` gives the same bytes (stored once).
    """
    left_out = set(skip)
    return {
        role: write_file(folder / f"{seed}-{role}{_kind(role)[0]}", *_size_seed(role, seed))
        for role in BIOMETRIC_ROLES
        if role not in left_out
    }


def biometric_hashes(seed: int = 0) -> set[str]:
    """The SHA-256 of every file :func:`biometric_files` writes for ``seed``."""
    return {
        hashlib.sha256(_file_bytes(*_size_seed(role, seed))).hexdigest()
        for role in BIOMETRIC_ROLES
    }


def _kind(role: str) -> tuple[str, int]:
    return BIOMETRIC_KINDS.get(role, FINGER_KIND)


def _size_seed(role: str, seed: int) -> tuple[int, int]:
    index = BIOMETRIC_ROLES.index(role)
    return _kind(role)[1] + index * 7 + seed, 100 + seed * 20 + index


def _file_bytes(size: int, seed: int) -> bytes:
    return bytes((seed * 31 + i * 7) % 256 for i in range(size))


def states(outbox_path: Path) -> dict[str, int]:
    """Records per state, read with a separate connection (as another process would)."""
    with sqlite3.connect(outbox_path) as conn:
        return dict(conn.execute("SELECT state, count(*) FROM record GROUP BY state").fetchall())

#: "Now" for tests of retention: records confirmed some days before it.
NOW = dt.datetime(2026, 12, 31, 12, 0, tzinfo=dt.UTC)


def set_state(client: FieldClient, record_id: str, state: str, days_ago: int = 0) -> None:
    """Put a record in ``state``, confirmed complete ``days_ago`` days before :data:`NOW`."""
    moment = records.format_utc(NOW - dt.timedelta(days=days_ago))
    with client.outbox.atomic():
        client.outbox.execute(
            "UPDATE record SET state = ?, completed_at = CASE WHEN ? THEN ? END WHERE id = ?",
            (state, state in records.CONFIRMED_COMPLETE, moment, record_id),
        )


def sha_of(client: FieldClient, saved: SavedRecord) -> str:
    """The hash of the (first) file a saved record names."""
    return str(client.outbox.scalar("SELECT sha256 FROM file WHERE record_id = ?", (saved.id,)))


def local(client: FieldClient, saved: SavedRecord) -> Path:
    """Where that file's sealed copy lives on the device."""
    path = client.outbox.scalar("SELECT path FROM file WHERE record_id = ?", (saved.id,))
    return client.settings.home / str(path)


def opened(client: FieldClient, record_id: str) -> dict[str, Any]:
    """A saved record as the office opens it (the laptop itself cannot)."""
    sealed = client.outbox.scalar("SELECT sealed FROM record WHERE id = ?", (record_id,))
    assert sealed is not None, f"record {record_id} has no sealed copy"
    record: dict[str, Any] = open_sealed_record(bytes(sealed))
    return record


def opened_file(client: FieldClient, sha256: str) -> bytes:
    """A kept biometric file as the office opens it."""
    path = client.outbox.scalar("SELECT path FROM file WHERE sha256 = ? LIMIT 1", (sha256,))
    assert path is not None, f"no file {sha256}"
    return open_sealed_file((client.settings.home / str(path)).read_bytes())
