"""Fixing a record the office sent back (``needs_fix``): a new version that supersedes it.

The new record gets a new id and the next seq, copies the old card data, biometric files and
exceptions with the operator's changes, and names the old one in ``supersedes``. It is saved in
ONE outbox transaction together with the old record's move to ``superseded``; anything wrong
(unknown record, wrong state, bad value, missing file, nothing changed) saves nothing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from field_client.capture import record as capture
from field_client.errors import CaptureInvalid, FixRefused
from field_client.store import blobs, records
from field_client.store.outbox import Outbox
from shared.biometrics import label
from shared.protocol import ClientState
from shared.schemas import PAYLOAD_FIELDS

_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class Original:
    """The record being fixed, as stored on the device."""

    id: str
    seq: int
    operator: str
    payload: dict[str, Any]
    files: dict[str, Any]  # role -> file row (sha256, size, media_type)
    exceptions: dict[str, str]  # role -> reason


def fix(
    outbox: Outbox,
    files_dir: Path,
    ref: str,
    *,
    changes: Mapping[str, Any] | None = None,
    files: Mapping[str, Path | str] | None = None,
    exceptions: Mapping[str, str] | None = None,
    operator: str | None = None,
) -> capture.SavedRecord:
    """Save the corrected version of record ``ref`` (id or seq); the old one becomes superseded."""
    original = load(outbox, ref)
    payload = _changed_payload(original.payload, changes or {})
    kept = _kept_files(files_dir, original, files or {}, exceptions or {})
    merged_files: dict[str, capture.FileRef] = {**kept, **(files or {})}
    merged_exceptions = {
        role: reason for role, reason in original.exceptions.items() if role not in (files or {})
    }
    merged_exceptions.update(exceptions or {})
    checked = capture.prepare(
        payload, operator or original.operator, merged_files, merged_exceptions, original.id
    )
    if checked.payload == original.payload and not files and not exceptions:
        raise FixRefused(
            f"Tidak ada yang diubah pada rekaman seq {original.seq}: beri perubahan dengan "
            "--set KOLOM=NILAI, --json BERKAS, --file PERAN=PATH atau --exception PERAN=ALASAN. "
            "Tidak ada yang disimpan."
        )

    def supersede() -> None:
        if not records.supersede_locally(outbox, original.id, records.utc_now()):
            raise FixRefused(
                f"Status rekaman seq {original.seq} berubah sementara perbaikan disimpan; tidak "
                "ada yang disimpan. Lihat jemput-field records lalu ulangi."
            )

    return capture.save(outbox, files_dir, [checked], also=supersede)[0]


def load(outbox: Outbox, ref: str) -> Original:
    """The record ``ref`` (id, or seq when all digits) if it can be fixed; else FixRefused."""
    row = records.find(outbox, ref)
    if row is None:
        raise FixRefused(
            f"Rekaman '{ref}' tidak ada di perangkat ini. Rekaman yang perlu diperbaiki: "
            "jemput-field records --state needs_fix. Tidak ada yang disimpan."
        )
    if row["state"] != ClientState.NEEDS_FIX:
        raise FixRefused(_not_fixable(row))
    if row["body"] is None:
        raise FixRefused(
            f"Data rekaman seq {row['seq']} sudah dibersihkan dari perangkat ini; rekam ulang "
            "penduduk ini. Tidak ada yang disimpan."
        )
    body = json.loads(row["body"])
    return Original(
        id=row["id"],
        seq=row["seq"],
        operator=body["operator"],
        payload=dict(body["payload"]),
        files={f["role"]: f for f in records.files_of(outbox, row["id"])},
        exceptions={e["role"]: e["reason"] for e in body.get("exceptions", [])},
    )


def _not_fixable(row: Any) -> str:
    seq, state = row["seq"], row["state"]
    if state == ClientState.SUPERSEDED and row["superseded_by"] is not None:
        return (
            f"Rekaman seq {seq} sudah diperbaiki oleh rekaman seq {row['superseded_by']}; hanya "
            "rekaman berstatus needs_fix (perlu perbaikan) yang dapat diperbaiki. Tidak ada "
            "yang disimpan."
        )
    return (
        f"Rekaman seq {seq} berstatus {state}, bukan needs_fix (perlu perbaikan): hanya rekaman "
        "yang dikembalikan kantor yang dapat diperbaiki. Tidak ada yang disimpan."
    )


def _changed_payload(payload: dict[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """The old card data with ``changes`` (a None value removes a field); names checked."""
    unknown = {}
    changed = dict(payload)
    for raw_name, value in changes.items():
        name = str(raw_name).strip().lower().replace("-", "_")
        if name not in PAYLOAD_FIELDS:
            unknown[str(raw_name)] = [f"Kolom tidak dikenal. Pilihan: {', '.join(PAYLOAD_FIELDS)}."]
        elif value is None:
            changed.pop(name, None)
        else:
            changed[name] = value
    if unknown:
        raise CaptureInvalid(unknown)
    return changed


def _kept_files(
    files_dir: Path,
    original: Original,
    files: Mapping[str, object],
    exceptions: Mapping[str, str],
) -> dict[str, blobs.FileSource]:
    """The old record's files still used, each checked intact on disk; else CaptureInvalid."""
    kept: dict[str, blobs.FileSource] = {}
    problems: dict[str, list[str]] = {}
    for role, row in original.files.items():
        if role in files or role in exceptions:
            continue  # replaced by the fix
        path = files_dir / row["sha256"]
        if _intact(path, row["sha256"], row["size"]):
            kept[role] = blobs.FileSource(role, path, row["size"], row["media_type"])
        else:
            problems[f"file.{role}"] = [
                f"Berkas {label(role)} rekaman seq {original.seq} tidak ada lagi atau rusak di "
                f"perangkat ini; berikan lagi: --file {role}=PATH."
            ]
    if problems:
        raise CaptureInvalid(problems)
    return kept


def _intact(path: Path, sha256: str, size: int) -> bool:
    """Whether ``path`` holds exactly the bytes noted for it."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as stream:
            while chunk := stream.read(_CHUNK):
                digest.update(chunk)
    except OSError:
        return False
    return path.stat().st_size == size and digest.hexdigest() == sha256
