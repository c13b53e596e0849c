"""Record rows of the outbox: store a capture, pick what to push, apply the server's answers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from field_client.store.outbox import Outbox
from shared.protocol import ClientState

CLIENT_STATES = tuple(state.value for state in ClientState)
#: States in which the server has confirmed it holds the record and all of its files.
CONFIRMED_COMPLETE = frozenset(
    {ClientState.COMPLETE, ClientState.APPROVED, ClientState.PRINTED, ClientState.SUKET_ISSUED}
)
#: States that carry a reason the operator must read.
PROBLEM_STATES = frozenset({ClientState.REJECTED, ClientState.NEEDS_FIX})

_LISTING = """
    SELECT r.id, r.seq, r.state, r.nik, r.nama, r.operator, r.captured_at, r.created_at,
           r.sent_at, r.server_state, r.server_state_at, r.error_code, r.error_message,
           r.purged_at, r.supersedes,
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
    """A biometric file of a record, already in the content-addressed folder."""

    role: str
    sha256: str
    size: int
    media_type: str
    path: str  # relative to the home folder


@dataclass(frozen=True)
class PendingRecord:
    """A record waiting to be pushed: its id, seq and the exact JSON text to send."""

    id: str
    seq: int
    body: str


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


def insert(outbox: Outbox, sealed: dict[str, Any], body: str, files: Sequence[StoredFile]) -> None:
    """Store one sealed record (state ``ready``) and its files; call inside ``atomic()``."""
    now = utc_now()
    payload = sealed["payload"]
    outbox.execute(
        "INSERT INTO record (id, seq, state, body, record_sha256, nik, nama, operator, "
        "captured_at, supersedes, created_at, updated_at) "
        "VALUES (?, ?, 'ready', ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            sealed["id"],
            sealed["seq"],
            body,
            sealed["record_sha256"],
            payload["nik"],
            payload["nama"],
            sealed["operator"],
            sealed["captured_at"],
            sealed.get("supersedes"),
            now,
            now,
        ),
    )
    for item in files:
        outbox.execute(
            "INSERT INTO file (record_id, role, sha256, size, media_type, path) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (sealed["id"], item.role, item.sha256, item.size, item.media_type, item.path),
        )


def ready_batch(outbox: Outbox, after_seq: int, limit: int) -> list[PendingRecord]:
    """Up to ``limit`` ``ready`` records with a seq above ``after_seq``, oldest first."""
    rows = outbox.rows(
        "SELECT id, seq, body FROM record WHERE state = 'ready' AND seq > ? ORDER BY seq LIMIT ?",
        (after_seq, limit),
    )
    return [PendingRecord(row["id"], row["seq"], row["body"]) for row in rows]


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


def apply_status(
    outbox: Outbox,
    record_id: str,
    state: str,
    server_state: str | None,
    reason: str | None,
    now: str,
    at: str | None = None,
) -> bool:
    """Apply a status change from the pull feed; keep a reason only where it matters.

    ``at`` is when the server changed the status (the feed entry's time, ISO 8601 UTC).
    """
    cursor = outbox.execute(
        "UPDATE record SET state = ?, server_state = ?, server_state_at = ?, updated_at = ?, "
        "sent_at = COALESCE(sent_at, ?), "
        "error_message = COALESCE(?, CASE WHEN ? THEN error_message END), "
        "error_code = CASE WHEN ? THEN error_code END, "
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
            reason,
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


def seqs_with_nik(outbox: Outbox, nik: str) -> list[int]:
    """Seqs of records already captured on this device with ``nik``."""
    rows = outbox.rows("SELECT seq FROM record WHERE nik = ? ORDER BY seq", (nik,))
    return [int(row["seq"]) for row in rows]


def body_of(outbox: Outbox, record_id: str) -> str | None:
    """The exact JSON text stored for a record (None after purge or when unknown)."""
    value = outbox.scalar("SELECT body FROM record WHERE id = ?", (record_id,))
    return None if value is None else str(value)


def _row_dict(row: Any) -> dict[str, Any]:
    item = {key: row[key] for key in row.keys() if key != "purged_at"}  # noqa: SIM118
    item["purged"] = row["purged_at"] is not None
    return item


def find(outbox: Outbox, ref: str) -> Any:
    """The row of the record with id ``ref`` (or, all digits, seq ``ref``), or None."""
    column = "seq" if ref.strip().isdigit() else "id"
    value: str | int = int(ref) if column == "seq" else ref.strip()
    rows = outbox.rows(
        "SELECT r.id, r.seq, r.state, r.body, r.operator, r.purged_at, r.server_state, "
        "r.error_message, (SELECT n.seq FROM record n WHERE n.supersedes = r.id "
        f"ORDER BY n.seq DESC LIMIT 1) AS superseded_by FROM record r WHERE r.{column} = ?",
        (value,),
    )
    return rows[0] if rows else None


def files_of(outbox: Outbox, record_id: str) -> list[Any]:
    """The file rows (role, sha256, size, media_type, path) of a record."""
    return outbox.rows(
        "SELECT role, sha256, size, media_type, path FROM file WHERE record_id = ? ORDER BY rowid",
        (record_id,),
    )


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
        "UPDATE record SET state = 'needs_fix', updated_at = ?, "
        "error_message = ? || COALESCE(' Alasan kantor semula: ' || error_message, '') "
        "WHERE id = (SELECT supersedes FROM record WHERE id = ?) "
        "AND state = 'superseded' AND server_state = 'needs_fix'",
        (now, message, fix_id),
    )
    return cursor.rowcount == 1
