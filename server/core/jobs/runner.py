"""Running claimed jobs: the handlers the domains register, heartbeats, progress, retries.

A domain registers a handler per kind in its ``init_app`` (review: checks; registry: population
imports). A handler runs inside one transaction that it must not commit: the runner marks the
jobs done in that same transaction and commits, so a job's effects and its "done" land together
or not at all. A handler that raises is rolled back and its jobs are queued again with a
growing delay (:func:`server.core.jobs.queue.fail`), or failed for good when the error says
retrying cannot help (:class:`Permanent`, or a domain error other than a conflict).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from server.core.errors import Conflict, JemputError, ServiceUnavailable
from server.core.extensions import db
from server.core.jobs import queue
from server.core.jobs.queue import Claimed, LeaseLost
from server.core.logs import log_context

log = logging.getLogger(__name__)
#: Progress is written at most this often (plus once at the end).
PROGRESS_EVERY = 0.5


class Permanent(Exception):
    """Raised by a handler when retrying cannot help; the message is for the office."""


class Progress:
    """Handed to a handler: ``progress(done, total)`` shows on the office page and the CLI."""

    def __init__(self, jobs: Sequence[Claimed], worker: str,
                 echo: Callable[[int, int], None] | None = None) -> None:
        self.ids = [job.id for job in jobs]
        self.worker = worker
        self.echo = echo
        self._last = 0.0
        #: The last ``(done, total)`` reported, stored with the job's "done".
        self.latest: tuple[int, int] | None = None

    def __call__(self, done: int, total: int) -> None:
        self.latest = (done, total)
        if self.echo is not None:
            self.echo(done, total)
        now = time.monotonic()
        if now - self._last >= PROGRESS_EVERY or done >= total:
            self._last = now
            queue.beat(self.ids, self.worker, done=done, total=total)


Run = Callable[[Sequence[Claimed], Progress], "dict[str, Any] | None"]


@dataclass(frozen=True)
class Handler:
    """How to run one kind of job."""

    kind: str
    run: Run
    #: How many queued jobs of this kind one run may take together (their args merged by
    #: the handler): checks of many small pushes become one check run.
    batch: int = 1
    #: Called once the jobs are done or given up (after the commit): cleanup.
    finished: Callable[[Sequence[Claimed]], None] | None = None


_HANDLERS: dict[str, Handler] = {}
#: Called with a kind once jobs of it are done (committed): a domain keeping figures derived
#: from what such jobs change (coverage) queues its refresh. Failures are logged, not raised.
_AFTER_DONE: list[Callable[[str], None]] = []


def register(kind: str, run: Run, batch: int = 1,
             finished: Callable[[Sequence[Claimed]], None] | None = None) -> None:
    """Make ``kind`` runnable (idempotent: every app of the process registers the same); its
    name for the office is in ``shared.labels.JOB_KIND_LABELS``."""
    _HANDLERS[kind] = Handler(kind, run, batch, finished)


def after_done(listener: Callable[[str], None]) -> None:
    """Call ``listener(kind)`` after every job that ends done (idempotent per listener)."""
    if listener not in _AFTER_DONE:
        _AFTER_DONE.append(listener)


def run_once(worker: str, *, lease: dt.timedelta, kinds: Collection[str] | None = None) -> int:
    """Requeue stalled jobs, then claim and run the next due job (with the batch it allows);
    the number of jobs run (0: nothing was due)."""
    _, given_up = queue.reclaim(lease)
    for job in given_up:  # their worker died on the last attempt: clean up after them here
        handler = _HANDLERS.get(job.kind)
        if handler is not None:
            _finished(handler, [job])
    jobs = queue.claim(worker, kinds=kinds)
    if not jobs:
        return 0
    handler = _HANDLERS.get(jobs[0].kind)
    if handler is not None and handler.batch > 1:
        jobs += queue.claim(worker, kinds=[handler.kind], limit=handler.batch - 1)
    run_claimed(jobs, worker)
    return len(jobs)


def run_claimed(jobs: Sequence[Claimed], worker: str,
                echo: Callable[[int, int], None] | None = None) -> bool:
    """Run claimed ``jobs`` (one kind) to done, or fail them; True when they are done."""
    ids = ",".join(str(job.id) for job in jobs)
    with log_context(job=ids):
        handler = _HANDLERS.get(jobs[0].kind)
        if handler is None:  # a newer host's kind: a worker that knows it will take it later
            queue.fail(jobs, worker, f"Jenis pekerjaan tidak dikenal pekerja ini: {jobs[0].kind}.")
            return False
        started = time.perf_counter()
        log.info("Job %s (%s) started, attempt %d", ids, handler.kind, jobs[0].attempts)
        try:
            with heartbeats(current_app._get_current_object(), jobs, worker):  # type: ignore[attr-defined]
                lock_timeout(float(current_app.config["JEMPUT_JOB_LOCK_TIMEOUT_SECONDS"]))
                progress = Progress(jobs, worker, echo)
                result = handler.run(jobs, progress)
                queue.finish(jobs, worker, result, progress.latest)
                db.session.commit()
        except LeaseLost:
            db.session.rollback()
            log.warning("Job %s was taken over by another worker; its work here rolled back", ids)
            return False
        except Exception as exc:  # every failure is recorded on the job, then retried
            db.session.rollback()
            final, message = describe(exc)
            log.warning("Job %s (%s) failed: %s", ids, handler.kind, type(exc).__name__,
                        exc_info=not isinstance(exc, (JemputError, Permanent, SQLAlchemyError)))
            queue.fail(jobs, worker, message, final=final)
            if final or all(job.attempts >= job.max_attempts for job in jobs):
                _finished(handler, jobs)
            return False
        log.info("Job %s (%s) done in %.2f s", ids, handler.kind, time.perf_counter() - started)
        _finished(handler, jobs)
        _after_done(handler.kind)
        return True


def _finished(handler: Handler, jobs: Sequence[Claimed]) -> None:
    if handler.finished is None:
        return
    try:
        handler.finished(jobs)
    except Exception as exc:  # cleanup only: the job's outcome stands
        log.warning("Cleanup after job(s) %s failed: %s", [job.id for job in jobs],
                    type(exc).__name__)


def _after_done(kind: str) -> None:
    for listener in _AFTER_DONE:
        try:
            listener(kind)
        except Exception as exc:  # the job stands; the listener's own work waits for later
            db.session.rollback()
            log.warning("After-done listener of %s failed: %s", kind, type(exc).__name__)


def describe(exc: Exception) -> tuple[bool, str]:
    """``(final, message)`` of a failed attempt: messages the office may read (a domain
    error's own sentence, never an exception's text, which may carry data)."""
    if isinstance(exc, Permanent):
        return True, str(exc)
    if isinstance(exc, (Conflict, ServiceUnavailable)):
        return False, exc.detail
    if isinstance(exc, JemputError):
        return True, exc.detail
    if isinstance(exc, SQLAlchemyError):
        return False, f"Basis data menolak ({type(exc).__name__}); diulang."
    return False, f"Kesalahan {type(exc).__name__}; diulang."


def lock_timeout(seconds: float) -> None:
    """Bound every lock wait of the job's transaction (PostgreSQL; SQLite's busy timeout is
    set on each connection)."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text(f"SET LOCAL lock_timeout = {int(seconds * 1000)}"))


@contextmanager
def heartbeats(app: Flask, jobs: Sequence[Claimed], worker: str) -> Iterator[None]:
    """Beat for ``jobs`` every third of the lease while the block runs."""
    if db.engine.dialect.name == "sqlite":  # one host: a job is reclaimed when its process ends
        yield
        return
    stop = threading.Event()
    every = float(app.config["JEMPUT_JOB_LEASE_SECONDS"]) / 3
    ids = [job.id for job in jobs]

    def loop() -> None:
        with app.app_context():
            while not stop.wait(every):
                try:
                    queue.beat(ids, worker)
                except SQLAlchemyError as exc:  # the next beat tries again
                    log.warning("Heartbeat of job(s) %s failed: %s", ids, type(exc).__name__)

    beating = threading.Thread(target=loop, name="jemput-heartbeat", daemon=True)
    beating.start()
    try:
        yield
    finally:
        stop.set()
        beating.join()
