"""Liveness (``/healthz``: the database answers) and readiness (``/readyz``: the database, the
blob store and free disk) of the server's dependencies.

The answers name checks and ``ok`` or what failed, never a path, an address or an error's own
text (which can hold both); the log names the check and the error's type only.
"""

from __future__ import annotations

import logging
import secrets
import shutil
import tempfile
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path

from flask import current_app
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from server.core.blobstore import blob_store, local_folder
from server.core.errors import ServiceUnavailable
from server.core.extensions import db

log = logging.getLogger(__name__)

#: Free bytes below which the server is not ready when ``JEMPUT_MIN_FREE_BYTES`` is not set.
DEFAULT_MIN_FREE_BYTES = 2**30
#: The probe a readiness check writes into the blob store's partial uploads and deletes.
PROBE_PREFIX = "readyz-probe-"


def _database_answers() -> bool:
    try:
        db.session.execute(text("SELECT 1"))
        db.session.commit()
    except SQLAlchemyError as exc:
        db.session.rollback()
        log.warning("Health check: database unavailable (%s)", type(exc).__name__)
        return False
    return True


def check() -> dict[str, str]:
    """``{"status": "ok", "database": "ok"}``, or raise when the database does not answer."""
    if not _database_answers():
        raise ServiceUnavailable("Basis data tidak menjawab.")
    return {"status": "ok", "database": "ok"}


def _blob_store_writes() -> bool:
    """The configured store takes a byte and gives it back, through its own methods (the path
    an upload takes): a probe partial written, synced, read and discarded."""
    probe = PROBE_PREFIX + secrets.token_hex(8)
    store = blob_store()
    try:
        with store.partial(probe) as part:
            part.append(b"ok")
            part.sync()
            written = part.read(0, 2) == b"ok"
        store.discard(probe)
    except Exception as exc:  # OSError, or a store's own (StorageFull): not ready, not a 500
        log.warning("Readiness: the blob store does not write (%s)", type(exc).__name__)
        with suppress(Exception):
            store.discard(probe)
        return False
    return written


def _folders() -> list[Path]:
    """The folders whose disks must have room: the blob folder (unless files go to a bucket),
    the instance folder, and the temporary folder an import job copies its file to."""
    local = local_folder()
    return [*([local] if local is not None else []), Path(current_app.instance_path),
            Path(tempfile.gettempdir())]


def _disk_has_room() -> bool:
    minimum = int(current_app.config.get("JEMPUT_MIN_FREE_BYTES") or DEFAULT_MIN_FREE_BYTES)
    for folder in _folders():
        try:
            free = shutil.disk_usage(folder if folder.exists() else folder.parent).free
        except OSError as exc:
            log.warning("Readiness: free disk unknown (%s)", type(exc).__name__)
            return False
        if free < minimum:
            log.warning("Readiness: %d bytes free on a data disk, below %d", free, minimum)
            return False
    return True


#: The readiness checks, by the name they are answered under.
READY_CHECKS: dict[str, Callable[[], bool]] = {
    "database": _database_answers,
    "blob_store": _blob_store_writes,
    "disk": _disk_has_room,
}
#: What a failing check is answered as (``errors`` of the 503).
FAILED = {
    "database": "tidak menjawab",
    "blob_store": "tidak bisa ditulis",
    "disk": "ruang kosong di bawah batas",
}


def ready() -> dict[str, object]:
    """``{"status": "ready", "checks": {name: "ok"}}``, or ServiceUnavailable naming, in its
    ``errors``, every check that failed."""
    results = {name: run() for name, run in READY_CHECKS.items()}
    failed = [name for name, passed in results.items() if not passed]
    if failed:
        raise ServiceUnavailable(
            "Server belum siap: " + ", ".join(failed) + ".",
            errors={name: [FAILED[name]] for name in failed})
    return {"status": "ready", "checks": dict.fromkeys(results, "ok")}

