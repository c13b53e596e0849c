"""Timing helpers the benchmarks share."""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

REPEAT = 7


def median_ms(work: Callable[[], Any], repeat: int = REPEAT) -> float:
    """Median wall time of ``work`` in milliseconds over ``repeat`` runs (after one warm-up)."""
    work()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def on_databases(run: Callable[[str, Path], T], postgresql: str | None) -> list[tuple[str, T]]:
    """``run(database_url, scratch_folder)`` on a scratch SQLite file, then on ``postgresql``."""
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        results = [("SQLite", run(f"sqlite:///{folder / 'bench.db'}", folder))]
        if postgresql:
            results.append(("PostgreSQL", run(postgresql, folder)))
    return results
