"""Record rows of the outbox: store a sealed record, pick what to push, apply the server's answers.

In clear a row holds the record's id, seq, state and times, the sealed record (sealed to the
office key: the laptop cannot open it) with its key id and hashes, and a keyed hash of its NIK
(``nik_mac``, under the data key). ``label`` (masked name, operator) and ``returned`` (what the
office sent back: its reason and the record's data) are boxes under the data key.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from field_client.store.outbox import Outbox
from shared import datakey
from shared.display import mask_name
from shared.protocol import ClientState

CLIENT_STATES = tuple(state.value for state in ClientState)
#: States in which the server has confirmed it holds the record and all of its files.
CONFIRMED_COMPLETE = frozenset(
    {ClientState.COMPLETE, ClientState.APPROVED, ClientState.PRINTED, ClientState.SUKET_ISSUED}
)
#: States that carry a reason the operator must read.
PROBLEM_STATES = frozenset({ClientState.REJECTED, ClientState.NEEDS_FIX})

_LISTING = """
    SELECT r.id, r.seq, r.state, r.label, r.returned, r.captured_at, r.created_at,
           r.sent_at, r.server_state, r.server_state_at, r.error_code, r.error_message,
           r.purged_at, r.supersedes, r.legacy_body IS NOT NULL AS legacy,
           (SELECT n.id FROM record n WHERE n.supersedes = r.id
            ORDER BY n.seq DESC LIMIT 1) AS superseded_by,
           (SELECT count(*) FROM file f WHERE f.record_id = r.id) AS files,
           (SELECT count(*) FROM file f JOIN upload u ON u.sha256 = f.sha256
            WHERE f.record_id = r.id AND u.state = 'done') AS files_uploaded,
           (SELECT count(*) FROM file f JOIN upload u ON u.sha256 = f.sha256
            WHERE f.record_id = r.id AND u.state = 'needed') AS files_waiting,
           (SELECT count(*) FROM file f JOIN upload u ON u.sha256 = f.sha256
            WHERE f.record_id = r.id AND u.state = 'failed') AS files_failed
    FROM record r
"""


@dataclass(frozen=True)
class StoredFile:
    """A biometric file of a record, kept sealed in the content-addressed folder."""

    role: str
    sha256: str  # of the plaintext, as the record names it
    size: int  # of the plaintext
    media_type: str
    path: str  # relative to the home folder
    key_id: str | None = None
    sealed_sha256: str | None = None
    sealed_size: int | None = None


@dataclass(frozen=True)
class SealedRecord:
    """A record as the outbox keeps it: sealed, with what the laptop may know in clear."""

    id: str
    seq: int
    key_id: str
    sealed: bytes
    sealed_sha256: str
    record_sha256: str
    captured_at: str
    supersedes: str | None
    nik_mac: str
    label: bytes  # under the data key


@dataclass(frozen=True)
class PendingRecord:
    """A record waiting to be pushed: its envelope, sent the same on every push."""

    id: str
    seq: int
    key_id: str
    sealed: bytes
    sealed_sha256: str


def utc_now() -> str:
    """The current time as ISO 8601 UTC with ``Z`` and second precision."""
    return format_utc(dt.datetime.now(dt.UTC))


def format_utc(moment: dt.datetime) -> str:
    """``moment`` as ISO 8601 UTC with ``Z`` and second precision."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_utc(text: str | None) -> dt.datetime | None:
    """An ISO 8601 time (``Z`` or an offset; naive counts as UTC), or None when absent or bad."""
    if not text:
        return None
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def local_time(text: str | None) -> str:
    """An ISO UTC time as the laptop's clock shows it (``29-11-2026 16:53``); '' for None, the
    text itself when it is not a time."""
    moment = parse_utc(text)
    if moment is None:
        return text or ""
    return moment.astimezone().strftime("%d-%m-%Y %H:%M")


def local_date(text: str | None) -> str | None:
    """An ISO UTC time as the laptop's calendar day (``29-11-2026``); None for none."""
    moment = parse_utc(text)
    return None if moment is None else moment.astimezone().strftime("%d-%m-%Y")


def insert(outbox: Outbox, record: SealedRecord, files: Sequence[StoredFile]) -> None:
    """Store one sealed record (state ``ready``) and its files; call inside ``atomic()``."""
    now = utc_now()
    outbox.execute(
        "INSERT INTO record (id, seq, state, key_id, sealed, sealed_sha256, record_sha256, "
        "nik_mac, label, captured_at, supersedes, created_at, updated_at) "
        "VALUES (?, ?, 'ready', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (record.id, record.seq, record.key_id, record.sealed, record.sealed_sha256,
         record.record_sha256, record.nik_mac, record.label, record.captured_at,
         record.supersedes, now, now),
    )
    insert_files(outbox, record.id, files)


def insert_files(outbox: Outbox, record_id: str, files: Sequence[StoredFile]) -> None:
    """Store the file rows of a record; call inside ``atomic()``."""
    for item in files:
        outbox.execute(
            "INSERT INTO file (record_id, role, sha256, size, media_type, path, key_id, "
            "sealed_sha256, sealed_size) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (record_id, item.role, item.sha256, item.size, item.media_type, item.path,
             item.key_id, item.sealed_sha256, item.sealed_size),
        )


def ready_batch(outbox: Outbox, after_seq: int, limit: int) -> list[PendingRecord]:
    """Up to ``limit`` sealed ``ready`` records with a seq above ``after_seq``, oldest first."""
    rows = outbox.rows(
        "SELECT id, seq, key_id, sealed, sealed_sha256 FROM record WHERE state = 'ready' "
        "AND sealed IS NOT NULL AND seq > ? ORDER BY seq LIMIT ?",
        (after_seq, limit),
    )
    return [PendingRecord(row["id"], row["seq"], row["key_id"], bytes(row["sealed"]),
                          row["sealed_sha256"]) for row in rows]


def first_unsent_seq(outbox: Outbox) -> int:
    """The lowest seq not yet answered by a server: where a new registration starts counting."""
    pending = outbox.scalar(
        "SELECT MIN(seq) FROM record WHERE state IN (?, ?)",
        (ClientState.DRAFT.value, ClientState.READY.value),
    )
    return int(pending) if pending is not None else outbox.next_seq()


def count_state(outbox: Outbox, state: str) -> int:
    """How many records are in ``state``."""
    return int(outbox.scalar("SELECT count(*) FROM record WHERE state = ?", (state,)))


def counts(outbox: Outbox) -> dict[str, int]:
    """Records per state (only states that have records)."""
    rows = outbox.rows("SELECT state, count(*) AS n FROM record GROUP BY state ORDER BY state")
    return {row["state"]: row["n"] for row in rows}


def mark_answered(
    outbox: Outbox, record_id: str, state: str, server_state: str | None, now: str
) -> bool:
    """Record the server's explicit acceptance of a pushed record; call inside ``atomic()``."""
    cursor = outbox.execute(
        "UPDATE record SET state = ?, server_state = ?, sent_at = ?, updated_at = ?, "
        "error_code = NULL, error_message = NULL, "
        "completed_at = CASE WHEN ? AND completed_at IS NULL THEN ? ELSE completed_at END "
        "WHERE id = ? AND state = 'ready'",
        (state, server_state, now, now, state in CONFIRMED_COMPLETE, now, record_id),
    )
    return cursor.rowcount == 1


def mark_rejected(
    outbox: Outbox, record_id: str, code: str, message: str, server_state: str | None, now: str
) -> bool:
    """Mark a ``ready`` record rejected with the reason; call inside ``atomic()``."""
    cursor = outbox.execute(
        "UPDATE record SET state = 'rejected', error_code = ?, error_message = ?, "
        "server_state = ?, updated_at = ? WHERE id = ? AND state = 'ready'",
        (code, message, server_state, now, record_id),
    )
    return cursor.rowcount == 1


def note_problem(outbox: Outbox, record_id: str, code: str, message: str, now: str) -> bool:
    """Keep a ``ready`` record ready but note why it did not go; call inside ``atomic()``.

    The note is cleared by the server's acceptance (:func:`mark_answered`).
    """
    cursor = outbox.execute(
        "UPDATE record SET error_code = ?, error_message = ?, updated_at = ? "
        "WHERE id = ? AND state = 'ready'",
        (code, message, now, record_id),
    )
    return cursor.rowcount == 1


def stored_sha256(outbox: Outbox, record_id: str) -> str | None:
    """The ``record_sha256`` noted for a record when it was saved."""
    value = outbox.scalar("SELECT record_sha256 FROM record WHERE id = ?", (record_id,))
    return None if value is None else str(value)


def sealed_intact(outbox: Outbox, record_id: str) -> bool:
    """Whether the sealed copy still hashes to the ``sealed_sha256`` noted when it was saved."""
    rows = outbox.rows("SELECT sealed, sealed_sha256 FROM record WHERE id = ?", (record_id,))
    if not rows or rows[0]["sealed"] is None:
        return False
    return hashlib.sha256(bytes(rows[0]["sealed"])).hexdigest() == rows[0]["sealed_sha256"]


def apply_status(
    outbox: Outbox,
    record_id: str,
    state: str,
    server_state: str | None,
    returned: bytes | None,
    now: str,
    at: str | None = None,
) -> bool:
    """Apply a status change from the pull feed; keep what the office sent back only where it
    matters (``returned``: its reason and the record's data, a box under the data key).

    ``at`` is when the server changed the status (the feed entry's time, ISO 8601 UTC).
    """
    cursor = outbox.execute(
        "UPDATE record SET state = ?, server_state = ?, server_state_at = ?, updated_at = ?, "
        "sent_at = COALESCE(sent_at, ?), "
        "returned = COALESCE(?, CASE WHEN ? THEN returned END), "
        "error_code = CASE WHEN ? THEN error_code END, "
        "error_message = CASE WHEN ? THEN error_message END, "
        "completed_at = CASE WHEN ? AND completed_at IS NULL THEN ? ELSE completed_at END "
        # "received" arriving late must not pull a record back from complete or beyond, and a
        # repeated page must not pull a record fixed on this device back from superseded.
        "WHERE id = ? AND (? != 'sent' OR state IN ('ready', 'sent')) "
        "AND (state != 'superseded' OR ? = 'superseded')",
        (
            state,
            server_state,
            at,
            now,
            now,
            returned,
            state in PROBLEM_STATES,
            state in PROBLEM_STATES,
            state in PROBLEM_STATES,
            state in CONFIRMED_COMPLETE,
            now,
            record_id,
            state,
            state,
        ),
    )
    return cursor.rowcount == 1


def listing(outbox: Outbox, state: str | None = None) -> list[dict[str, Any]]:
    """Records (without their bodies) in seq order, optionally only one state."""
    if state is None:
        rows = outbox.rows(_LISTING + " ORDER BY r.seq")
    else:
        rows = outbox.rows(_LISTING + " WHERE r.state = ? ORDER BY r.seq", (state,))
    return [_row_dict(row) for row in rows]


def seqs_with_nik(outbox: Outbox, nik_mac: str) -> list[int]:
    """Seqs of records already captured on this device with the NIK whose keyed hash this is."""
    rows = outbox.rows("SELECT seq FROM record WHERE nik_mac = ? ORDER BY seq", (nik_mac,))
    return [int(row["seq"]) for row in rows]


def _row_dict(row: Any) -> dict[str, Any]:
    item = {key: row[key] for key in row.keys() if key != "purged_at"}  # noqa: SIM118
    item["purged"] = row["purged_at"] is not None
    item["legacy"] = bool(row["legacy"])
    return item


def find(outbox: Outbox, ref: str) -> Any:
    """The row of the record with id ``ref`` (or, all digits, seq ``ref``), or None."""
    column = "seq" if ref.strip().isdigit() else "id"
    value: str | int = int(ref) if column == "seq" else ref.strip()
    rows = outbox.rows(
        "SELECT r.id, r.seq, r.state, r.sealed, r.returned, r.label, r.purged_at, "
        "r.server_state, r.error_message, (SELECT n.seq FROM record n WHERE n.supersedes = r.id "
        f"ORDER BY n.seq DESC LIMIT 1) AS superseded_by FROM record r WHERE r.{column} = ?",
        (value,),
    )
    return rows[0] if rows else None


def files_of(outbox: Outbox, record_id: str) -> list[Any]:
    """The file rows (role, sha256, size, media_type, path, key_id, sealed_sha256,
    sealed_size) of a record."""
    return outbox.rows(
        "SELECT role, sha256, size, media_type, path, key_id, sealed_sha256, sealed_size "
        "FROM file WHERE record_id = ? ORDER BY rowid",
        (record_id,),
    )


def kept_file(outbox: Outbox, sha256: str) -> Any:
    """A sealed copy of the file ``sha256`` some record keeps (its row), or None."""
    rows = outbox.rows(
        "SELECT path, key_id, sealed_sha256, sealed_size FROM file WHERE sha256 = ? "
        "AND sealed_sha256 IS NOT NULL ORDER BY rowid LIMIT 1", (sha256,))
    return rows[0] if rows else None


def drop_sealed(outbox: Outbox, record_id: str, now: str) -> bool:
    """Forget a rejected record's sealed copy once its successor is saved; in ``atomic()``.

    The row stays (its seq is accounted for), marked purged, like a purged record. A record
    that is not (or no longer) rejected keeps everything. The caller deletes the files no
    record names any more, after the commit.
    """
    cursor = outbox.execute(
        "UPDATE record SET sealed = NULL, returned = NULL, label = NULL, purged_at = ?, "
        "updated_at = ? WHERE id = ? AND state = 'rejected' AND purged_at IS NULL",
        (now, now, record_id),
    )
    if cursor.rowcount != 1:
        return False
    outbox.execute("DELETE FROM file WHERE record_id = ?", (record_id,))
    return True


def supersede_locally(outbox: Outbox, record_id: str, now: str) -> bool:
    """Mark a ``needs_fix`` record superseded (its fix is saved); call inside ``atomic()``."""
    cursor = outbox.execute(
        "UPDATE record SET state = 'superseded', updated_at = ? "
        "WHERE id = ? AND state = 'needs_fix'",
        (now, record_id),
    )
    return cursor.rowcount == 1


def reopen_after_refused_fix(outbox: Outbox, fix_id: str, message: str, now: str) -> bool:
    """The server refused a fix: its original goes back to ``needs_fix`` with why; in ``atomic()``.

    Only an original this device superseded itself (the server still says needs_fix).
    """
    cursor = outbox.execute(
        "UPDATE record SET state = 'needs_fix', updated_at = ?, error_message = ? "
        "WHERE id = (SELECT supersedes FROM record WHERE id = ?) "
        "AND state = 'superseded' AND server_state = 'needs_fix'",
        (now, message, fix_id),
    )
    return cursor.rowcount == 1


def make_label(data_key: bytes, nama: str, operator: str) -> bytes:
    """What a list shows of a saved record, under the data key: the name masked as ``/verify``
    masks it (no NIK digit) and the operator."""
    return datakey.encrypt_json(data_key, {"nama": mask_name(nama), "operator": operator})


def open_box(data_key: bytes | None, box: bytes | None) -> dict[str, Any] | None:
    """A label or returned box opened with the data key; None without the key or the box, or
    when it does not open (another registration's key)."""
    if data_key is None or box is None:
        return None
    try:
        opened = datakey.decrypt_json(data_key, bytes(box))
    except datakey.DataKeyError:
        return None
    return opened if isinstance(opened, dict) else None
