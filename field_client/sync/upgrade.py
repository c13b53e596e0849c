"""Upgrade of a laptop whose queue an older version kept in clear: seal it before any sync.

An outbox migrated to schema 8 may still hold records (``legacy_body``) and biometric files
(``files/<sha256>``) in clear, in-flight uploads of clear bytes, and target lists in clear
(already dropped by the migration). Before the first sync of the new version, with the device
token and no PIN:

1. the device profile is fetched, which brings the office key (its fingerprint goes in the
   report, for the operator to compare with what the office reads out);
2. every old file is sealed to it into ``files/<sha256>.sealed`` (written and synced first),
   then every old record is sealed and the file rows, the upload rows (restarted: their bytes
   change) and the pull cursor (replayed from the start, so the office's reasons and the target
   lists come back under the data key) are updated, in ONE transaction;
3. the clear files are deleted and the database file is rebuilt (``VACUUM`` with
   ``secure_delete``), so no page keeps the clear text; only then is the upgrade noted done.

A crash anywhere repeats what is left on the next sync (before the commit: all of it; after:
the deletion and the rebuild); nothing is synced until it is done.
Drafts an older version kept in clear need the data key: the first login after the upgrade
encrypts them (``capture.drafts.secure_legacy``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re

from field_client.config import Settings
from field_client.errors import NotRegistered, UpgradeRequired
from field_client.store import blobs, keys
from field_client.store.outbox import Outbox
from field_client.sync.device_profile import fetch_profile
from field_client.sync.report import SyncReport
from field_client.sync.transport import Transport
from shared.sealing import SEAL_OVERHEAD, fingerprint, seal, seal_record, sealed_sha256

log = logging.getLogger(__name__)

PENDING_META = "upgrade_pending"
#: ``upgrade_pending`` once the old queue is sealed (committed) but the clear copies may still
#: be on disk: a crash there must not leave them, so the next sync deletes them and VACUUMs.
CLEANUP = "cleanup"
#: How an older version named a clear file in ``files/``: its SHA-256 alone, no suffix.
_LEGACY_NAME = re.compile(r"^[0-9a-f]{64}$")


def pending(outbox: Outbox) -> bool:
    """Whether the outbox still holds what an older version kept in clear."""
    return outbox.get_meta(PENDING_META) is not None


def ensure(outbox: Outbox, transport: Transport, settings: Settings,
           report: SyncReport) -> None:
    """Seal the old queue if there is one; :class:`UpgradeRequired` when it cannot be done now."""
    stage = outbox.get_meta(PENDING_META)
    if stage is None:
        return
    if stage != CLEANUP:
        fetch_profile(outbox, transport)
    try:
        office = keys.office_key(outbox)
    except NotRegistered as exc:
        raise UpgradeRequired(
            "Antrean lama di laptop ini belum disegel: kunci kantor belum diterima dari server. "
            "Tidak ada yang dikirim; sinkron lagi nanti."
        ) from exc
    count, files = 0, 0
    if stage != CLEANUP:
        sealed_files = _seal_files(outbox, settings, office)
        count = _seal_records(outbox, office, sealed_files)
        files = sum(1 for digest, _ in sealed_files.values() if digest is not None)
    _cleanup(outbox, settings)
    drafts_left = int(outbox.scalar(
        "SELECT count(*) FROM draft WHERE sealed IS NULL AND record_id IS NULL"))
    report.upgrade = {"records": count, "files": files, "drafts_left": drafts_left,
                      "office_key_fingerprint": fingerprint(office.public)}
    log.info("old queue sealed: %d records, %d files", count, files)


def _seal_files(outbox: Outbox, settings: Settings,
                office: keys.OfficeKey) -> dict[str, tuple[str | None, int]]:
    """Seal every clear file a record names; {sha256: (sealed_sha256, sealed_size)}.

    A clear file that no longer matches its hash is sealed too (no clear byte may stay), but
    without a ``sealed_sha256``: the laptop cannot vouch for that copy, so the upload reports it
    changed (``file_changed``) instead of sending it.
    """
    done: dict[str, tuple[str | None, int]] = {}
    for row in outbox.rows("SELECT DISTINCT sha256 FROM file WHERE key_id IS NULL"):
        sha256 = row["sha256"]
        clear = settings.home / blobs.legacy_path(sha256)
        target = settings.home / blobs.relative_path(sha256)
        try:
            data = clear.read_bytes()
        except FileNotFoundError:
            if target.is_file():  # sealed by an earlier run that crashed before its commit
                kept = target.read_bytes()
                done[sha256] = (hashlib.sha256(kept).hexdigest(), len(kept))
            continue  # lost: the upload will say so, with the record's seq
        sealed = seal(office.public, data)
        blobs.write_atomically(settings.files_dir, target, sealed)
        if hashlib.sha256(data).hexdigest() != sha256:
            log.warning("old file %s does not match its hash; sealed, not to be sent", sha256[:12])
            done[sha256] = (None, len(sealed))
            continue
        done[sha256] = (hashlib.sha256(sealed).hexdigest(), len(sealed))
    return done


def _seal_records(outbox: Outbox, office: keys.OfficeKey,
                  sealed_files: dict[str, tuple[str | None, int]]) -> int:
    """One transaction: records sealed, file and upload rows pointed at the sealed copies,
    clear target lists gone, the pull feed replayed from the start."""
    count = 0
    with outbox.atomic():
        for row in outbox.rows("SELECT id, legacy_body FROM record WHERE legacy_body IS NOT NULL"):
            record = json.loads(row["legacy_body"])
            sealed = seal_record(office.public, record)
            outbox.execute(
                "UPDATE record SET sealed = ?, key_id = ?, sealed_sha256 = ?, "
                "legacy_body = NULL WHERE id = ?",
                (sealed, office.kid, sealed_sha256(sealed), row["id"]))
            count += 1
        for sha256, (digest, size) in sealed_files.items():
            outbox.execute(
                "UPDATE file SET path = ?, key_id = ?, sealed_sha256 = ?, sealed_size = ? "
                "WHERE sha256 = ?",
                (blobs.relative_path(sha256), office.kid, digest, size, sha256))
        # Uploads of clear bytes cannot go on: they start again, with the sealed bytes.
        outbox.execute(
            "UPDATE upload SET url = NULL, plain_size = size, size = size + ?, key_id = ?, "
            "offset = CASE WHEN state = 'done' THEN size + ? ELSE 0 END "
            "WHERE plain_size IS NULL", (SEAL_OVERHEAD, office.kid, SEAL_OVERHEAD))
        outbox.execute("DELETE FROM outreach_visit WHERE sealed IS NULL")
        outbox.set_meta("pull_cursor", 0)
        outbox.set_meta(PENDING_META, CLEANUP)
    return count


def _cleanup(outbox: Outbox, settings: Settings) -> None:
    """Delete every clear file an older version left (all are sealed now, or were lost, or no
    record names them), rebuild the database file, then note the upgrade done."""
    if settings.files_dir.is_dir():
        for path in settings.files_dir.iterdir():
            if _LEGACY_NAME.match(path.name) and path.is_file():
                path.unlink(missing_ok=True)
    outbox.vacuum()
    with outbox.atomic():
        outbox.set_meta(PENDING_META, None)
