"""Population imports as background jobs: the file waits in the blob store for a worker."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import func, select

from server.core.blobstore import blob_store
from server.core.extensions import db
from server.core.jobs import queue, worker
from server.core.models import Resident
from server.registry import imports
from tests.server.registry.test_population import population_rows, write_csv


def test_an_import_queued_for_a_worker_is_run_by_it_and_its_file_deleted(
        app: Flask, runner: FlaskCliRunner, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "penduduk.csv", population_rows(7))
    queued = runner.invoke(args=["import-population", "--no-wait", str(path)])
    assert queued.exit_code == 0, queued.output
    job_id = int(re.search(r"#(\d+) diantrekan", queued.output).group(1))  # type: ignore[union-attr]
    listed = runner.invoke(args=["jobs"])
    assert f"#{job_id}  Impor data penduduk  menunggu" in listed.output
    with app.app_context():
        job = queue.get(job_id)
        assert job is not None and job.args["filename"] == "penduduk.csv"
        stored = str(job.args["object"])
        with blob_store().open_import(stored) as body:  # the office's file, byte for byte
            assert body.read() == path.read_bytes()
        assert db.session.execute(select(func.count()).select_from(Resident)).scalar() == 0
        assert worker.drain(app, worker.worker_name()) == 1
        done = queue.get(job_id)
        assert done is not None and done.state == "done"
        assert done.result == {"imported": 7, "updated": 0, "unchanged": 0, "refused_count": 0,
                               "refused": []}
        assert done.progress_total == path.stat().st_size == done.progress_done
        assert db.session.execute(select(func.count()).select_from(Resident)).scalar() == 7
        with pytest.raises(FileNotFoundError):
            blob_store().open_import(stored)
    listed = runner.invoke(args=["jobs", "--json"])
    assert f'"id": {job_id}' in listed.output and '"state": "done"' in listed.output


def test_a_refused_import_is_a_finished_job_that_saved_nothing(
        app: Flask, runner: FlaskCliRunner, tmp_path: Path) -> None:
    rows = list(population_rows(80))
    for row in rows:
        row["jenis_kelamin"] = "X"
    refused = runner.invoke(args=["import-population", str(write_csv(tmp_path / "b.csv", rows))])
    assert refused.exit_code == 1
    assert "80 baris ditolak; tidak ada yang disimpan" in refused.output
    assert "... dan 30 baris lagi." in refused.output  # 50 listed of 80
    with app.app_context():
        # A coverage refresh may follow any finished import; the import is the job looked at.
        (job,) = [job for job in queue.recent() if job.kind == imports.IMPORT_POPULATION]
        assert job.state == "done" and job.result is not None
        assert job.result["refused_count"] == 80 and job.result["imported"] == 0
        assert db.session.execute(select(func.count()).select_from(Resident)).scalar() == 0
