"""Upload rows of the outbox: which files the server still needs and how far each upload got.

An upload sends a file's sealed copy: ``size`` and ``offset`` count sealed bytes, ``plain_size``
and ``sha256`` are the plaintext's (what the record and the server name), ``key_id`` the office
key it is sealed to.

One row per file content (SHA-256): ``needed`` (the server said it lacks the file), ``done``
(the server holds all of it) or ``failed`` (it could not be sent and a person must look; the
reason is kept, and every sync checks it again). Only files of records the server holds without
all their files (state ``sent``) are worked on and counted.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from field_client.store.outbox import Outbox
from shared.sealing import SEAL_OVERHEAD

log = logging.getLogger(__name__)

NEEDED, DONE, FAILED = "needed", "done", "failed"
# A file is wanted while a record that is still waiting for its files names it.
_WANTED = (
    "EXISTS (SELECT 1 FROM file wf JOIN record wr ON wr.id = wf.record_id "
    "WHERE wf.sha256 = u.sha256 AND wr.state = 'sent')"
)
# Per wanted file: its row and the earliest record (seq) naming it. SQLite takes the bare
# columns (path, role) from the row holding MIN(seq).
_WANTED_ROWS = """
    SELECT u.sha256, u.size, u.plain_size, u.key_id, u.media_type, u.url, u.offset, u.state,
           u.error_code, u.error_message, f.path, f.sealed_sha256, f.role, MIN(r.seq) AS seq
    FROM upload u JOIN file f ON f.sha256 = u.sha256 JOIN record r ON r.id = f.record_id
    WHERE r.state = 'sent' AND u.state IN ({states})
    GROUP BY u.sha256 ORDER BY seq, f.role
"""
_MARK_NEEDED = """
    INSERT INTO upload (sha256, size, plain_size, key_id, media_type, state, updated_at)
    VALUES (?, ?, ?, ?, ?, 'needed', ?)
    ON CONFLICT (sha256) DO UPDATE SET
        -- A finished upload the server says it lacks again is useless: start a new one.
        url = CASE WHEN state = 'done' THEN NULL ELSE url END,
        offset = CASE WHEN state = 'done' THEN 0 ELSE offset END,
        state = 'needed', updated_at = excluded.updated_at
"""
# Files of `sent` records that nothing will ever upload: no row, and no file of the record is
# waiting or failed (the server never listed what it lacks, or all it listed went).
_ADOPT = f"""
    INSERT OR IGNORE INTO upload (sha256, size, plain_size, key_id, media_type, state,
                                  updated_at)
    SELECT f.sha256, COALESCE(MAX(f.sealed_size), MAX(f.size) + {SEAL_OVERHEAD}), MAX(f.size),
           MAX(f.key_id), MAX(f.media_type), 'needed', ?
    FROM file f JOIN record r ON r.id = f.record_id
    WHERE r.state = 'sent'
      AND NOT EXISTS (SELECT 1 FROM upload u WHERE u.sha256 = f.sha256)
      AND NOT EXISTS (SELECT 1 FROM file g JOIN upload u ON u.sha256 = g.sha256
                      WHERE g.record_id = r.id AND u.state != 'done')
    GROUP BY f.sha256
"""


@dataclass(frozen=True)
class UploadRow:
    """A file to upload: what the outbox knows of it and of the first record naming it."""

    sha256: str  # of the plaintext
    size: int  # sealed bytes to send
    plain_size: int
    key_id: str | None
    media_type: str
    url: str | None
    offset: int
    state: str
    error_code: str | None
    error_message: str | None
    path: str  # of the sealed copy, relative to the home folder
    sealed_sha256: str | None  # noted when it was sealed: the copy is checked before sending
    role: str
    seq: int


def mark_needed(outbox: Outbox, record_id: str, sha256s: Iterable[str], now: str) -> int:
    """Note files the server lacks for a record it accepted; call inside ``atomic()``."""
    known = {
        row["sha256"]: row
        for row in outbox.rows(
            "SELECT sha256, MAX(size) AS plain_size, MAX(sealed_size) AS size, "
            "MAX(key_id) AS key_id, MAX(media_type) AS media_type FROM file "
            "WHERE record_id = ? GROUP BY sha256",
            (record_id,),
        )
    }
    marked = 0
    for sha256 in dict.fromkeys(sha256s):
        row = known.get(sha256)
        if row is None:  # the server asks for a file this record does not name
            log.warning("server lists a missing file that record %s does not name", record_id)
            continue
        size = row["size"] or row["plain_size"] + SEAL_OVERHEAD  # no copy here: fails, named
        outbox.execute(_MARK_NEEDED, (sha256, size, row["plain_size"], row["key_id"],
                                      row["media_type"], now))
        marked += 1
    return marked


def adopt_orphans(outbox: Outbox, now: str) -> int:
    """Mark needed the files of ``sent`` records nothing would upload; call inside ``atomic()``.

    Such records became ``sent`` through the pull feed without a push answer listing what the
    server lacks (or come from an older outbox): without this they would wait forever. A file
    the server already holds costs one creation request.
    """
    return outbox.execute(_ADOPT, (now,)).rowcount


def settle_confirmed(outbox: Outbox, confirmed_states: Iterable[str], now: str) -> int:
    """Mark done the files only confirmed-complete records name; call inside ``atomic()``.

    Complete on the server means it holds them (another device may have sent the same bytes).
    A file a ``sent`` record also names is left alone: the server listed it for that record.
    """
    states = tuple(confirmed_states)
    marks = ", ".join("?" for _ in states)
    return outbox.execute(
        "UPDATE upload AS u SET state = 'done', offset = size, error_code = NULL, "
        "error_message = NULL, updated_at = ? WHERE state != 'done' AND sha256 IN ("
        "SELECT f.sha256 FROM file f JOIN record r ON r.id = f.record_id "
        f"WHERE r.state IN ({marks})) AND NOT {_WANTED}",
        (now, *states),
    ).rowcount


def pending(outbox: Outbox) -> list[UploadRow]:
    """Wanted files not done yet (failed ones too: checked again), oldest record first."""
    rows = outbox.rows(_WANTED_ROWS.format(states="'needed', 'failed'"))
    return [UploadRow(**{key: row[key] for key in row.keys()}) for row in rows]  # noqa: SIM118


def failed_files(outbox: Outbox) -> list[dict[str, Any]]:
    """Wanted files that could not be sent, with the reason (no personal data)."""
    rows = outbox.rows(_WANTED_ROWS.format(states="'failed'"))
    return [
        {
            "sha256": row["sha256"],
            "size": row["size"],
            "seq": row["seq"],
            "role": row["role"],
            "code": row["error_code"],
            "message": row["error_message"],
        }
        for row in rows
    ]


def summary(outbox: Outbox) -> dict[str, int]:
    """Wanted files still waiting, failed, and the bytes the server still lacks of them."""
    rows = outbox.rows(
        "SELECT u.state, count(*) AS n, COALESCE(SUM(u.size - u.offset), 0) AS left "
        f"FROM upload u WHERE u.state != 'done' AND {_WANTED} GROUP BY u.state"
    )
    found = {row["state"]: row for row in rows}
    return {
        "waiting": int(found[NEEDED]["n"]) if NEEDED in found else 0,
        "failed": int(found[FAILED]["n"]) if FAILED in found else 0,
        "bytes_left": sum(int(row["left"]) for row in rows),
    }


def problems_by_record(outbox: Outbox) -> dict[str, list[dict[str, Any]]]:
    """Per record id: its files that failed, with role and reason."""
    found: dict[str, list[dict[str, Any]]] = {}
    for row in outbox.rows(
        "SELECT f.record_id, f.role, u.error_code, u.error_message FROM file f "
        "JOIN upload u ON u.sha256 = f.sha256 WHERE u.state = 'failed' ORDER BY f.role"
    ):
        found.setdefault(row["record_id"], []).append(
            {"role": row["role"], "code": row["error_code"], "message": row["error_message"]}
        )
    return found


def save_progress(outbox: Outbox, sha256: str, url: str | None, offset: int, now: str) -> None:
    """Keep the upload URL and the offset the server acknowledged; call inside ``atomic()``."""
    outbox.execute(
        "UPDATE upload SET url = ?, offset = ?, updated_at = ? WHERE sha256 = ?",
        (url, offset, now, sha256),
    )


def mark_done(outbox: Outbox, sha256: str, url: str | None, now: str) -> None:
    """The server holds the whole file; call inside ``atomic()``."""
    outbox.execute(
        "UPDATE upload SET state = 'done', url = ?, offset = size, error_code = NULL, "
        "error_message = NULL, updated_at = ? WHERE sha256 = ?",
        (url, now, sha256),
    )


def mark_failed(outbox: Outbox, sha256: str, code: str, message: str, now: str) -> None:
    """The file cannot be sent until a person acts; call inside ``atomic()``."""
    outbox.execute(
        "UPDATE upload SET state = 'failed', error_code = ?, error_message = ?, updated_at = ? "
        "WHERE sha256 = ?",
        (code, message, now, sha256),
    )


def note_problem(outbox: Outbox, sha256: str, code: str, message: str, now: str) -> None:
    """Keep the file needed but note why this run did not finish it; call inside ``atomic()``."""
    outbox.execute(
        "UPDATE upload SET state = 'needed', error_code = ?, error_message = ?, updated_at = ? "
        "WHERE sha256 = ?",
        (code, message, now, sha256),
    )
