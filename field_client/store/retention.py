"""Purging: residents' data leaves the device only after the server confirmed it complete."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from pathlib import Path

from field_client.store import records
from field_client.store.outbox import Outbox

log = logging.getLogger(__name__)

_CONFIRMED = tuple(sorted(state.value for state in records.CONFIRMED_COMPLETE))
_PLACEHOLDERS = ", ".join("?" for _ in _CONFIRMED)
# Complete (or later) on the server, confirmed long enough ago, and not purged yet; also an old
# version the server confirmed superseded (it was complete before the office sent it back).
_DUE = (
    f"SELECT id FROM record WHERE (state IN ({_PLACEHOLDERS}) "
    "OR (state = 'superseded' AND server_state = 'superseded')) AND purged_at IS NULL "
    "AND completed_at IS NOT NULL AND completed_at <= ?"
)


@dataclass(frozen=True)
class PurgeReport:
    """How many records were emptied and how many biometric files deleted."""

    records: int
    files: int


def purge(
    outbox: Outbox, files_dir: Path, retention_days: int, now: dt.datetime | None = None
) -> PurgeReport:
    """Drop the sealed copies, boxes and files of records confirmed complete
    ``retention_days`` ago.

    The row itself (id, seq, state, hashes) stays, so the device can still account for every
    sequence number it ever used.
    """
    moment = now or dt.datetime.now(dt.UTC)
    cutoff = records.format_utc(moment - dt.timedelta(days=retention_days))
    params = (*_CONFIRMED, cutoff)
    stamp = records.format_utc(moment)
    with outbox.atomic():
        shas = [
            (row["sha256"], row["path"])
            for row in outbox.rows(
                f"SELECT DISTINCT sha256, path FROM file WHERE record_id IN ({_DUE})", params
            )
        ]
        outbox.execute(f"DELETE FROM file WHERE record_id IN ({_DUE})", params)
        cursor = outbox.execute(
            "UPDATE record SET sealed = NULL, legacy_body = NULL, label = NULL, "
            "returned = NULL, nik_mac = NULL, purged_at = ?, "
            f"updated_at = ? WHERE id IN ({_DUE})",
            (stamp, stamp, *params),
        )
        purged = cursor.rowcount
        # Upload rows of files no record names any more (only hashes, but nothing to keep).
        outbox.execute("DELETE FROM upload WHERE sha256 NOT IN (SELECT sha256 FROM file)")
    # Files go after the commit: a crash in between leaves an orphan file, never a record
    # that names a missing file.
    deleted = _delete_unused(outbox, files_dir, shas)
    log.info("purged %d records and %d files", purged, deleted)
    return PurgeReport(purged, deleted)


def _delete_unused(outbox: Outbox, files_dir: Path, files: list[tuple[str, str]]) -> int:
    """Delete the files no record names any more (one an unpurged record shares stays)."""
    deleted = 0
    for sha256, path in files:
        if outbox.scalar("SELECT 1 FROM file WHERE sha256 = ? LIMIT 1", (sha256,)) is None:
            target = files_dir.parent / path
            if target.exists():
                target.unlink()
                deleted += 1
    return deleted
