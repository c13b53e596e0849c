"""Timing helpers the benchmarks share."""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

REPEAT = 7


def stats_ms(work: Callable[[], Any], repeat: int = REPEAT) -> tuple[float, float, float]:
    """(min, median, max) wall milliseconds of ``repeat`` runs of ``work`` after a warm-up."""
    work()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        times.append((time.perf_counter() - started) * 1000)
    return min(times), statistics.median(times), max(times)


def median_ms(work: Callable[[], Any], repeat: int = REPEAT) -> float:
    """Median wall time of ``work`` in milliseconds over ``repeat`` runs (after one warm-up)."""
    return stats_ms(work, repeat)[1]


def process_cpu(pid: int | str) -> float:
    """User + system CPU seconds of process ``pid`` (0 when it is gone or not visible)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def on_databases(run: Callable[[str, Path], T], postgresql: str | None) -> list[tuple[str, T]]:
    """``run(database_url, scratch_folder)`` on a scratch SQLite file, then on ``postgresql``."""
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        results = [("SQLite", run(f"sqlite:///{folder / 'bench.db'}", folder))]
        if postgresql:
            results.append(("PostgreSQL", run(postgresql, folder)))
    return results
