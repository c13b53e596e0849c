"""The watch loop: idle interval after success, exponential backoff with full jitter on failure."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable

import pytest
import requests

from field_client.errors import NetworkUnavailable, OutboxBusy, StorageError, SyncBusy
from field_client.sync.report import SyncReport
from field_client.sync.watch import MAX_QUICK_RETRIES, Backoff, connection_broke, watch


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


# -- resuming as soon as the link is back ---------------------------------------------------


class Probes:
    """A fake ``probe`` playing a list of answers (then always the last one)."""

    def __init__(self, *answers: bool) -> None:
        self.answers = list(answers)
        self.calls = 0

    def __call__(self) -> bool:
        self.calls += 1
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


def cut_after_progress() -> NetworkUnavailable:
    """A run that had files acknowledged when the link broke (the engine attaches the report)."""
    return NetworkUnavailable("cut", report=SyncReport(pushed=2, bytes_uploaded=40_000))


def test_an_interrupted_run_resumes_at_once_when_the_link_is_straight_back() -> None:
    sleeps: list[float] = []
    probe = Probes(True)
    run = Script(cut_after_progress(), cut_after_progress(), cut_after_progress(), SyncReport())
    summary = watch(run, idle_interval=30, backoff=Backoff(2, 300, MaxRng()), max_cycles=4,
                    sleep=sleeps.append, probe=probe)
    # No backoff waited after any of the three cuts; only the idle interval after success.
    assert sleeps == []
    assert probe.calls == 3 and summary.early_resumes == 3
    assert (summary.cycles, summary.failures, summary.last_error) == (4, 3, None)


def test_cuts_with_progress_do_not_escalate_the_backoff() -> None:
    sleeps: list[float] = []
    delays: list[float] = []
    # After the first cut the link stays down for two probes, then answers; after the second
    # it is straight back.
    run = Script(cut_after_progress(), cut_after_progress(), cut_after_progress())
    summary = watch(run, backoff=Backoff(8, 300, MaxRng()), max_cycles=3, sleep=sleeps.append,
                    probe=Probes(False, False, True), probe_every=1.0,
                    on_cycle=lambda n, report, error, delay: delays.append(delay))
    assert sleeps == [1.0, 1.0]
    assert delays == [8, 8, 8]  # each cut starts the backoff again: no 16, no 32
    assert summary.early_resumes == 2


def test_a_link_that_comes_back_mid_wait_ends_the_wait() -> None:
    sleeps: list[float] = []
    probe = Probes(False, False, True)
    run = Script(down(), SyncReport())  # nothing moved: the link was down from the start
    summary = watch(run, idle_interval=30, backoff=Backoff(16, 300, MaxRng()), max_cycles=2,
                    sleep=sleeps.append, probe=probe, probe_every=2.0)
    assert sleeps == [2.0, 2.0, 2.0]  # 6 s of a 16 s backoff: the third probe answered
    assert probe.calls == 3 and summary.early_resumes == 1


def test_a_server_that_answers_probes_but_fails_every_run_gets_the_full_backoff() -> None:
    sleeps: list[float] = []
    probe = Probes(True)  # /healthz answers, yet every run fails without moving anything
    run = Script(down(), down(), down())
    summary = watch(run, backoff=Backoff(2, 300, MaxRng()), max_cycles=3, sleep=sleeps.append,
                    probe=probe, probe_every=1.0)
    assert sum(sleeps[:2]) == 2 and sum(sleeps[2:]) == 4  # the whole 2 s, then the whole 4 s
    assert summary.early_resumes == 0


def test_a_failed_pull_after_a_clean_push_is_not_an_interruption() -> None:
    sleeps: list[float] = []
    run = Script(SyncReport(pull_error="pull failed"), SyncReport(pull_error="pull failed"))
    summary = watch(run, backoff=Backoff(2, 300, MaxRng()), max_cycles=2, sleep=sleeps.append,
                    probe=Probes(True), probe_every=1.0)
    assert sum(sleeps) == 2 and summary.early_resumes == 0


def test_stop_during_the_probing_wait_ends_the_loop() -> None:
    stop = threading.Event()
    probe = Probes(False)

    def sleep(_: float) -> None:
        stop.set()

    summary = watch(Script(down(), SyncReport()), backoff=Backoff(16, 300, MaxRng()),
                    stop_event=stop, sleep=sleep, probe=probe)
    assert summary.cycles == 1 and probe.calls == 0


def broken_connection() -> NetworkUnavailable:
    """A run whose connection was reset before anything moved (as requests reports it)."""
    try:
        try:
            raise requests.ConnectionError(ConnectionResetError(104, "reset by peer"))
        except requests.ConnectionError as exc:
            raise NetworkUnavailable("cut") from exc
    except NetworkUnavailable as error:
        return error


def refused_connection() -> NetworkUnavailable:
    try:
        try:
            raise requests.ConnectionError(ConnectionRefusedError(111, "refused"))
        except requests.ConnectionError as exc:
            raise NetworkUnavailable("down") from exc
    except NetworkUnavailable as error:
        return error


def test_a_broken_connection_is_retried_at_once_a_few_times_in_a_row() -> None:
    sleeps: list[float] = []
    probe = Probes(True)
    run = Script(*[broken_connection() for _ in range(5)])
    summary = watch(run, backoff=Backoff(2, 300, MaxRng()), max_cycles=5, sleep=sleeps.append,
                    probe=probe, probe_every=1.0)
    # Three quick retries, then the backoff (8 s after the fourth failure) is waited out whole.
    assert summary.early_resumes == MAX_QUICK_RETRIES == 3
    assert sum(sleeps) == 16


def test_a_refused_connection_is_not_an_interruption() -> None:
    sleeps: list[float] = []
    run = Script(refused_connection(), SyncReport())
    summary = watch(run, backoff=Backoff(2, 300, MaxRng()), max_cycles=2, sleep=sleeps.append,
                    probe=Probes(True), probe_every=1.0)
    assert summary.early_resumes == 0 and sum(sleeps) == 2


def test_what_counts_as_a_broken_connection() -> None:
    assert connection_broke(broken_connection())
    assert not connection_broke(refused_connection())
    assert not connection_broke(down())  # an answer that was not the contract's
    assert not connection_broke(None)
    try:
        raise NetworkUnavailable("slow") from requests.ReadTimeout("read timed out")
    except NetworkUnavailable as slow:
        assert not connection_broke(slow)
