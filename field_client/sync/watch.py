"""Sync forever: a calm interval while things work, exponential backoff with full jitter when not.

The sleep (and the random source of the jitter) are injected so the loop is tested without
waiting.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass

from field_client.errors import FieldClientError, NetworkUnavailable, OutboxBusy, SyncBusy
from field_client.sync.report import SyncReport

log = logging.getLogger(__name__)

#: ``on_cycle(cycle, report, error, delay)`` after every attempt; exactly one of report/error.
CycleCallback = Callable[[int, SyncReport | None, FieldClientError | None, float], None]


class Backoff:
    """Exponential backoff with full jitter: a random wait in ``[0, min(cap, base * 2**n)]``."""

    def __init__(self, base: float = 2.0, cap: float = 300.0, rng: random.Random | None = None):
        self.base = base
        self.cap = cap
        self.failures = 0
        self._rng = rng or random.Random()

    def ceiling(self) -> float:
        """The upper bound of the next wait."""
        return min(self.cap, self.base * 2 ** max(self.failures - 1, 0))

    def next_delay(self) -> float:
        """Count one more failure and return how long to wait before trying again."""
        self.failures += 1
        # Full jitter spreads the retries of many laptops that lost the same network.
        return self._rng.uniform(0, self.ceiling())

    def reset(self) -> None:
        """Forget the failures after a success."""
        self.failures = 0


@dataclass
class WatchSummary:
    """What a watch loop did before it returned."""

    cycles: int = 0
    failures: int = 0
    last_report: SyncReport | None = None
    last_error: str | None = None


def watch(
    run_once: Callable[[], SyncReport],
    *,
    idle_interval: float = 30.0,
    backoff: Backoff | None = None,
    stop_event: threading.Event | None = None,
    max_cycles: int | None = None,
    sleep: Callable[[float], object] | None = None,
    on_cycle: CycleCallback | None = None,
) -> WatchSummary:
    """Call ``run_once`` until stopped; temporary failures back off, others are raised.

    Temporary: the network or a non-Jemput answer (:class:`NetworkUnavailable`), another sync
    on the same folder (:class:`SyncBusy`), a locked outbox (:class:`OutboxBusy`).
    """
    backoff = backoff or Backoff()
    stop = stop_event or threading.Event()
    # Waiting on the event (not time.sleep) lets another thread stop the loop at once.
    pause = sleep or stop.wait
    summary = WatchSummary()
    try:
        while not stop.is_set():
            delay = _cycle(run_once, backoff, idle_interval, summary, on_cycle)
            if max_cycles is not None and summary.cycles >= max_cycles:
                break
            if stop.is_set():
                break
            pause(delay)
    except KeyboardInterrupt:
        log.info("watch interrupted after %d cycles", summary.cycles)
    return summary


def _cycle(
    run_once: Callable[[], SyncReport],
    backoff: Backoff,
    idle_interval: float,
    summary: WatchSummary,
    on_cycle: CycleCallback | None,
) -> float:
    summary.cycles += 1
    report: SyncReport | None = None
    error: FieldClientError | None = None
    try:
        report = run_once()
    except (NetworkUnavailable, SyncBusy, OutboxBusy) as exc:  # temporary: try again later
        # OutboxBusy: another process (an enroll, an import) held the outbox locked; nothing
        # was changed. Other storage errors (disk full, read-only, corrupt) stay fatal.
        error = exc
    if error is None and report is not None and report.pull_error is None:
        backoff.reset()
        delay = idle_interval
        summary.last_error = None
    else:
        summary.failures += 1
        summary.last_error = error.message if error else (report.pull_error if report else None)
        delay = backoff.next_delay()
    summary.last_report = report or summary.last_report
    if on_cycle:
        on_cycle(summary.cycles, report, error, delay)
    return delay
