"""Waiting for a server process's background jobs (the checks run after a push, not in it)."""

from __future__ import annotations

import datetime as dt
import sqlite3
import time
from pathlib import Path

#: Jobs running, or queued and due (a coverage refresh queued for the coming midnight is not
#: waited for). SQLite holds naive UTC timestamps as text that sorts as time.
PENDING = ("SELECT count(*) FROM job WHERE state = 'running' "
           "OR (state = 'queued' AND run_after <= ?)")


def wait_for_jobs(instance: Path, timeout: float = 60.0) -> None:
    """Until the SQLite server in ``instance`` has no job running or queued and due (its job
    thread ran the checks); fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    pending = -1
    while time.monotonic() < deadline:
        with sqlite3.connect(f"file:{instance / 'jemput.db'}?mode=ro", uri=True) as conn:
            now = dt.datetime.now(dt.UTC).replace(tzinfo=None).isoformat(sep=" ")
            pending = conn.execute(PENDING, (now,)).fetchone()[0]
        if pending == 0:
            return
        time.sleep(0.1)
    raise AssertionError(f"{pending} background job(s) still pending after {timeout} s")
