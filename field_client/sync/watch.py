"""Sync forever: a calm interval while things work, exponential backoff with full jitter when not.

A slow village link drops for a moment and comes straight back: waiting out a backoff then
leaves it idle. So, given a ``probe`` (is the server reachable right now?), the wait after a
failure ends early when the link is seen to be back:

* at once, when the probe answers right after a run that was interrupted: it had moved
  something (records answered, file bytes acknowledged) before it failed, and then the backoff
  starts again from its first step; or its connection broke (reset, closed), not more than
  ``MAX_QUICK_RETRIES`` times in a row without anything moving;
* otherwise as soon as a probe answers after one that did not (the link was down and is back).

A server that answers the probe while every run fails without moving anything (5xx, a portal,
a timeout) still gets the full backoff. The sleep, the probe and the random source of the jitter are
injected so the loop is tested without waiting.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import requests
from urllib3.exceptions import NewConnectionError

from field_client.errors import FieldClientError, NetworkUnavailable, OutboxBusy, SyncBusy
from field_client.sync.report import SyncReport

log = logging.getLogger(__name__)

#: ``on_cycle(cycle, report, error, delay)`` after every attempt; exactly one of report/error.
CycleCallback = Callable[[int, SyncReport | None, FieldClientError | None, float], None]
#: ``probe()``: whether the server answers right now (quick, never raises).
Probe = Callable[[], bool]
#: Seconds between probes while waiting after a failure.
PROBE_EVERY = 1.0
#: Broken connections in a row, with nothing moved, retried at once when the probe answers.
MAX_QUICK_RETRIES = 3


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
    failures_in_row: int = 0  # failed cycles since the last success
    interrupted: bool = False  # the last failed cycle was cut off (see the module)
    quick_in_row: int = 0  # quick retries since something last moved
    early_resumes: int = 0  # waits after a failure ended early because the link was back


def _wait_for_link(
    delay: float,
    probe: Probe,
    pause: Callable[[float], object],
    stop: threading.Event,
    every: float,
    summary: WatchSummary,
) -> None:
    """Wait up to ``delay`` seconds, probing every ``every``; return early once the link is back
    (at once after an interrupted run that had moved something, else after a failed probe)."""
    seen_down = False
    if summary.interrupted:
        if probe():
            summary.early_resumes += 1
            return
        seen_down = True
    waited = 0.0
    while waited < delay and not stop.is_set():
        step = min(every, delay - waited)
        pause(step)
        waited += step
        if waited >= delay or stop.is_set():
            return
        if probe():
            if seen_down:
                summary.early_resumes += 1
                log.info("link back after %.1f s; resuming before the backoff ends", waited)
                return
        else:
            seen_down = True


def watch(
    run_once: Callable[[], SyncReport],
    *,
    idle_interval: float = 30.0,
    backoff: Backoff | None = None,
    stop_event: threading.Event | None = None,
    max_cycles: int | None = None,
    sleep: Callable[[float], object] | None = None,
    on_cycle: CycleCallback | None = None,
    probe: Probe | None = None,
    probe_every: float = PROBE_EVERY,
) -> WatchSummary:
    """Call ``run_once`` until stopped; temporary failures back off, others are raised.

    Temporary: the network or a non-Jemput answer (:class:`NetworkUnavailable`), another sync
    on the same folder (:class:`SyncBusy`), a locked outbox (:class:`OutboxBusy`). With a
    ``probe``, a wait after a failure ends as soon as the link is back (see the module).
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
            if probe is None or summary.failures_in_row == 0:
                pause(delay)
            else:
                _wait_for_link(delay, probe, pause, stop, probe_every, summary)
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
        summary.failures_in_row = summary.quick_in_row = 0
    else:
        summary.failures += 1
        summary.failures_in_row += 1
        summary.last_error = error.message if error else (report.pull_error if report else None)
        moved = moved_anything(report or getattr(error, "report", None))
        if moved:  # an interruption of a working link: start the backoff again
            backoff.reset()
            summary.quick_in_row = 0
        broke = connection_broke(error) and summary.quick_in_row < MAX_QUICK_RETRIES
        summary.interrupted = moved or broke
        if broke and not moved:
            summary.quick_in_row += 1
        delay = backoff.next_delay()
    summary.last_report = report or summary.last_report
    if on_cycle:
        on_cycle(summary.cycles, report, error, delay)
    return delay


def moved_anything(report: SyncReport | None) -> bool:
    """Whether a run got the server to take anything: records answered, file bytes or files."""
    if report is None:
        return False
    return bool(report.pushed or report.bytes_uploaded or report.files_uploaded or report.pulled)


def connection_broke(error: BaseException | None) -> bool:
    """Whether the error came from a connection that broke once open (reset, closed mid-answer),
    not from an answer, a connection that could not be made, or a timeout."""
    chain = list(_causes(error))
    broken = any(isinstance(exc, requests.ConnectionError) and not isinstance(exc, requests.Timeout)
                 for exc in chain)
    never_open = any(isinstance(exc, NewConnectionError | ConnectionRefusedError)
                     for exc in chain)
    return broken and not never_open


def _causes(error: BaseException | None) -> Iterator[BaseException]:
    """``error`` and what it wraps: causes, contexts, and urllib3's wrapped reasons."""
    seen: set[int] = set()
    todo = [error]
    while todo:
        exc = todo.pop()
        if exc is None or id(exc) in seen:
            continue
        seen.add(id(exc))
        yield exc
        todo += [exc.__cause__, exc.__context__, getattr(exc, "reason", None)]
        todo += [arg for arg in exc.args if isinstance(arg, BaseException)]
