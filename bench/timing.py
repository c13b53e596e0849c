"""Timing helpers the benchmarks share."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

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
