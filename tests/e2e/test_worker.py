"""``jemput-server worker --processes 2`` on PostgreSQL: it runs the queue, stops gracefully.

A check run job is made to wait inside its lock (the test holds the checks' advisory lock), so
"mid-job" is certain: SIGTERM then lets the job finish before the worker exits, and the job is
done once, by that worker, its log lines naming the job.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from server.review.checks import ADVISORY_LOCK
from tests.e2e.test_exactly_once import _drop_pg_database, _fresh_pg_database
from tests.support.processes import BIN, ServerProcess

pytestmark = pytest.mark.e2e


@pytest.fixture
def pg_instance(tmp_path: Path) -> Iterator[ServerProcess]:
    """An initialised instance on a fresh PostgreSQL database (no app server needed)."""
    base = os.environ.get("JEMPUT_TEST_DATABASE_URL")
    if not base:
        pytest.skip("JEMPUT_TEST_DATABASE_URL is not set")
    url = _fresh_pg_database(base, f"worker_{uuid.uuid4().hex[:12]}")
    instance = tmp_path / "instance"
    instance.mkdir()
    server = ServerProcess(instance, database_url=url)
    server.cli("init")
    yield server
    _drop_pg_database(url)


def plain(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def job_row(url: str, job_id: int) -> tuple[str, int, str | None]:
    with psycopg.connect(plain(url)) as conn:
        row = conn.execute("SELECT state, attempts, locked_by FROM job WHERE id = %s",
                           (job_id,)).fetchone()
    assert row is not None
    return row[0], row[1], row[2]


def wait_for(predicate: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_sigterm_lets_the_running_job_finish_then_the_worker_exits(
        pg_instance: ServerProcess, tmp_path: Path) -> None:
    url = pg_instance.database_url
    assert url is not None
    queued = pg_instance.cli("run-checks", "--no-wait")
    job_id = int(re.search(r"#(\d+)", queued).group(1))  # type: ignore[union-attr]
    assert job_row(url, job_id)[0] == "queued"
    log = tmp_path / "worker.log"
    with psycopg.connect(plain(url), autocommit=True) as holder, log.open("wb") as out:
        holder.execute("SELECT pg_advisory_lock(%s)", (ADVISORY_LOCK,))
        proc = subprocess.Popen([str(BIN / "jemput-server"), "worker", "--processes", "2"], env={
            **pg_instance.env, "JEMPUT_LOG_LEVEL": "INFO", "JEMPUT_JOB_POLL_SECONDS": "0.2"},
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            wait_for(lambda: job_row(url, job_id)[0] == "running", 30, "the worker's claim")
            proc.send_signal(signal.SIGTERM)
            time.sleep(1.0)
            assert proc.poll() is None, "the worker left its job half done"
            holder.execute("SELECT pg_advisory_unlock(%s)", (ADVISORY_LOCK,))
            assert proc.wait(timeout=30) == 0
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    state, attempts, locked_by = job_row(url, job_id)
    assert (state, attempts) == ("done", 1)
    assert locked_by and locked_by.endswith(":worker")
    text = log.read_text()
    # Each line names the worker, and the job while one runs.
    assert re.search(rf"\[worker=\S+:worker job={job_id}\]: Job {job_id} \(check_all\) done",
                     text)
    assert "stopping after the current job" in text and "stopped" in text
    listed = pg_instance.cli("jobs")
    assert f"#{job_id}  Pemeriksaan penuh  selesai" in listed
