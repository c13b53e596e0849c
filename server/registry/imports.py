"""Population imports as background jobs: the file goes to the blob store, a worker imports it.

``jemput-server import-population FILE`` checks the file's size, stores it in the blob store
(``imports/<random>.csv``: the bucket on S3, so any worker host can read it) and queues an
``import_population`` job; the command then runs the job itself unless a worker took it first,
and shows its progress (also on the office's "Pekerjaan latar" page). The stored file is deleted
once the job is done or given up.
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from server.core.blobstore import blob_store
from server.core.extensions import db
from server.core.jobs import queue
from server.core.jobs.queue import Claimed
from server.core.jobs.runner import Permanent, Progress
from server.registry import population
from server.registry.csv_files import checked_size

IMPORT_POPULATION = "import_population"
#: Refused lines a job keeps for the office and the command (the count is kept in full).
REFUSED_KEPT = 200


def queue_import(path: str | Path, created_by: str | None = None) -> int:
    """Check ``path``, store it in the blob store and queue its import; commit; the job id."""
    path = Path(path)
    checked_size(path)  # a missing, a folder or an oversized file is refused here, at once
    name = f"{secrets.token_hex(16)}.csv"
    with path.open("rb") as source:
        blob_store().put_import(name, source)
    try:
        job_id = queue.enqueue(IMPORT_POPULATION, {"object": name, "filename": path.name},
                               created_by=created_by, max_attempts=3)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        blob_store().delete_import(name)
        raise
    return job_id


def import_population_job(jobs: Sequence[Claimed], progress: Progress) -> dict[str, Any]:
    """Job ``import_population``: copy the stored file to a local temporary file (named as the
    office's file, so messages name it) and import it, leaving the transaction to the runner."""
    args = jobs[0].args
    with tempfile.TemporaryDirectory(prefix="jemput-import-") as folder:
        local = Path(folder) / Path(str(args["filename"])).name
        try:
            with blob_store().open_import(str(args["object"])) as source, local.open("wb") as out:
                shutil.copyfileobj(source, out, 1024 * 1024)
        except FileNotFoundError as exc:
            raise Permanent("Berkas impor tidak ada lagi di penyimpanan; unggah ulang.") from exc
        report = population.import_population(local, progress, commit=False)
    return {"imported": report.imported, "updated": report.updated,
            "unchanged": report.unchanged, "refused_count": len(report.refused),
            "refused": [list(item) for item in report.refused[:REFUSED_KEPT]]}


def forget_file(jobs: Sequence[Claimed]) -> None:
    """After the job is done or given up: delete its stored file."""
    for job in jobs:
        blob_store().delete_import(str(job.args["object"]))
