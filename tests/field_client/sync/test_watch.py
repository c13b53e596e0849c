"""The watch loop: idle interval after success, exponential backoff with full jitter on failure."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable

import pytest

from field_client.errors import NetworkUnavailable, OutboxBusy, StorageError, SyncBusy
from field_client.sync.report import SyncReport
from field_client.sync.watch import Backoff, watch


class Script:
    """A fake ``run_once`` playing a list of outcomes (a report or an exception)."""

    def __init__(self, *outcomes: SyncReport | Exception) -> None:
        self.outcomes = list(outcomes)
        self.calls = 0

    def __call__(self) -> SyncReport:
        self.calls += 1
        outcome = self.outcomes.pop(0) if self.outcomes else SyncReport()
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


class MaxRng(random.Random):
    """Jitter that always picks the ceiling, to see the exponential envelope."""

    def uniform(self, a: float, b: float) -> float:
        return b


def down() -> NetworkUnavailable:
    return NetworkUnavailable("down")


def test_backoff_doubles_to_the_cap_and_resets() -> None:
    backoff = Backoff(base=2, cap=300, rng=MaxRng())
    delays = [backoff.next_delay() for _ in range(10)]
    assert delays == [2, 4, 8, 16, 32, 64, 128, 256, 300, 300]
    backoff.reset()
    assert backoff.next_delay() == 2


def test_full_jitter_stays_within_the_envelope() -> None:
    backoff = Backoff(base=2, cap=300, rng=random.Random(7))
    for attempt in range(1, 12):
        delay = backoff.next_delay()
        assert 0 <= delay <= min(300, 2 * 2 ** (attempt - 1))


def test_failures_back_off_and_success_resets() -> None:
    sleeps: list[float] = []
    run = Script(down(), down(), down(), SyncReport(), down(), SyncBusy("busy"), SyncReport())
    summary = watch(
        run,
        idle_interval=30,
        backoff=Backoff(2, 300, MaxRng()),
        max_cycles=7,
        sleep=sleeps.append,
    )
    assert sleeps == [2, 4, 8, 30, 2, 4]  # no sleep after the last cycle
    assert (summary.cycles, summary.failures, run.calls) == (7, 5, 7)
    assert summary.last_error is None and summary.last_report is not None


def test_a_failed_pull_also_backs_off() -> None:
    sleeps: list[float] = []
    run = Script(SyncReport(pull_error="pull failed"), SyncReport())
    watch(run, backoff=Backoff(2, 300, MaxRng()), max_cycles=3, sleep=sleeps.append)
    assert sleeps[:2] == [2, 30]


def test_stop_event_ends_the_loop_during_the_wait() -> None:
    stop = threading.Event()
    run = Script(down())
    calls: list[float] = []

    def sleep(delay: float) -> None:
        calls.append(delay)
        stop.set()

    summary = watch(run, stop_event=stop, sleep=sleep)
    assert summary.cycles == 1 and len(calls) == 1


def test_real_wait_is_interruptible_by_the_event() -> None:
    stop = threading.Event()
    timer = threading.Timer(0.05, stop.set)
    timer.start()
    summary = watch(Script(), idle_interval=60, stop_event=stop)  # waits on the event itself
    timer.join()
    assert summary.cycles == 1


def test_keyboard_interrupt_returns_quietly() -> None:
    def interrupted(_: float) -> None:
        raise KeyboardInterrupt

    summary = watch(Script(), sleep=interrupted)
    assert summary.cycles == 1


def test_a_busy_outbox_backs_off_instead_of_stopping() -> None:
    sleeps: list[float] = []
    busy = OutboxBusy("Antrean sedang dipakai proses lain terlalu lama.")
    run = Script(busy, OutboxBusy("again"), SyncReport(), SyncReport())
    summary = watch(
        run, idle_interval=30, backoff=Backoff(2, 300, MaxRng()), max_cycles=4,
        sleep=sleeps.append,
    )  # fmt: skip
    assert sleeps == [2, 4, 30]
    assert (summary.cycles, summary.failures, run.calls) == (4, 2, 4)
    assert summary.last_error is None


@pytest.mark.parametrize("fatal", [lambda: StorageError("disk"), lambda: RuntimeError("bug")])
def test_other_errors_are_raised(fatal: Callable[[], Exception]) -> None:
    with pytest.raises(type(fatal())):
        watch(Script(fatal()), sleep=lambda _: None, max_cycles=5)


def test_on_cycle_sees_every_attempt() -> None:
    seen: list[tuple[int, bool, float]] = []
    watch(
        Script(down(), SyncReport()),
        idle_interval=30,
        backoff=Backoff(2, 300, MaxRng()),
        max_cycles=2,
        sleep=lambda _: None,
        on_cycle=lambda n, report, error, delay: seen.append((n, error is None, delay)),
    )
    assert seen == [(1, False, 2), (2, True, 30)]
