"""Fixing a record the office sent back (``needs_fix``): a new version that supersedes it.

The laptop cannot open its own sealed copy: the office sends the record's data back under the
device's data key with its reason (the pull feed's ``sealed``). The new record gets a new id
and the next seq, copies that card data, the biometric files (by hash: the server holds them)
and exceptions with the operator's changes, and names the old one in ``supersedes``. It is
saved in ONE outbox transaction together with the old record's move to ``superseded``; anything
wrong (unknown record, wrong state, bad value, nothing changed) saves nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from field_client.capture import record as capture
from field_client.errors import CaptureInvalid, FixRefused
from field_client.store import blobs, records
from field_client.store.keys import Keys
from field_client.store.outbox import Outbox
from shared.protocol import ClientState
from shared.schemas import PAYLOAD_FIELDS


@dataclass(frozen=True)
class Original:
    """The record being fixed, as stored on the device."""

    id: str
    seq: int
    operator: str | None
    payload: dict[str, Any]
    files: dict[str, blobs.KeptFile]  # role -> the file by hash
    exceptions: dict[str, str]  # role -> reason
    reason: str | None  # the office's


def fix(
    outbox: Outbox,
    files_dir: Path,
    ref: str,
    keys: Keys,
    *,
    changes: Mapping[str, Any] | None = None,
    files: Mapping[str, Path | str] | None = None,
    exceptions: Mapping[str, str] | None = None,
    operator: str | None = None,
) -> capture.SavedRecord:
    """Save the corrected version of record ``ref`` (id or seq); the old one becomes superseded."""
    original = load(outbox, ref, keys.data_key)
    payload = _changed_payload(original.payload, changes or {})
    kept = {role: kept for role, kept in original.files.items()
            if role not in (files or {}) and role not in (exceptions or {})}
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

    return capture.save(outbox, files_dir, [checked], keys, also=supersede)[0]


def load(outbox: Outbox, ref: str, data_key: bytes) -> Original:
    """The record ``ref`` (id, or seq when all digits) if it can be fixed, with the data the
    office sent back (opened with ``data_key``); else FixRefused."""
    row = records.find(outbox, ref)
    if row is None:
        raise FixRefused(
            f"Rekaman '{ref}' tidak ada di perangkat ini. Rekaman yang perlu diperbaiki: "
            "jemput-field records --state needs_fix. Tidak ada yang disimpan."
        )
    if row["state"] != ClientState.NEEDS_FIX:
        raise FixRefused(_not_fixable(row))
    return returned_record(row, data_key)


def returned_record(row: Any, data_key: bytes) -> Original:
    """What the office sent back of record ``row`` (its data and reason, under the data key);
    FixRefused when the laptop does not hold it (yet)."""
    returned = records.open_box(data_key, row["returned"])
    record = (returned or {}).get("record")
    if not isinstance(record, dict):
        raise FixRefused(
            f"Data rekaman seq {row['seq']} belum diterima dari kantor di laptop ini (atau "
            "sudah dibersihkan): sinkronkan dulu, lalu ulangi; bila tetap tidak ada, rekam ulang "
            "penduduk ini. Tidak ada yang disimpan."
        )
    label = records.open_box(data_key, row["label"]) or {}
    return Original(
        id=row["id"],
        seq=row["seq"],
        operator=label.get("operator"),
        payload=dict(record.get("payload") or {}),
        files={a["role"]: blobs.KeptFile(a["role"], a["sha256"], a["size"], a["media_type"])
               for a in record.get("attachments") or []},
        exceptions={e["role"]: e["reason"] for e in record.get("exceptions") or []},
        reason=(returned or {}).get("reason"),
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
