"""Waiting for a server process's background jobs (the checks run after a push, not in it)."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

PENDING = "SELECT count(*) FROM job WHERE state IN ('queued', 'running')"


def wait_for_jobs(instance: Path, timeout: float = 60.0) -> None:
    """Until the SQLite server in ``instance`` has no job queued or running (its job thread
    ran the checks); fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    pending = -1
    while time.monotonic() < deadline:
        with sqlite3.connect(f"file:{instance / 'jemput.db'}?mode=ro", uri=True) as conn:
            pending = conn.execute(PENDING).fetchone()[0]
        if pending == 0:
            return
        time.sleep(0.1)
    raise AssertionError(f"{pending} background job(s) still pending after {timeout} s")
