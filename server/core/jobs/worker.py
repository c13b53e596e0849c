"""Who runs the queue: ``jemput-server worker`` processes, or a thread of the server, or inline.

``JEMPUT_JOBS`` chooses (:mod:`server.core.config`):

- ``worker`` (the default on PostgreSQL): app servers only enqueue; ``jemput-server worker
  --processes N`` runs the jobs, on any number of hosts. SIGTERM or SIGINT stop it gracefully:
  the job being run is finished first.
- ``thread`` (the default on SQLite): each server process runs one background thread, started
  with its first request, so ``make demo`` stays one command.
- ``inline``: the jobs a request enqueued run right after its commit, in the request (tests and
  one-off scripts that want results at once).

Every loop first requeues the jobs of workers that stopped beating (:func:`queue.reclaim`), so a
job whose worker was killed is run again by whoever is alive.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from flask import Flask, current_app
from sqlalchemy.exc import SQLAlchemyError

from server.core.extensions import db
from server.core.jobs import runner
from server.core.logs import log_context

log = logging.getLogger(__name__)
THREAD_KEY = "jemput_job_thread"
#: A child process that died is started again after this many seconds.
RESTART_DELAY = 1.0


def worker_name(role: str = "worker") -> str:
    """``host:pid:role``: who holds a running job (the office page shows it)."""
    return f"{socket.gethostname()}:{os.getpid()}:{role}"


def lease(app: Flask) -> dt.timedelta:
    return dt.timedelta(seconds=float(app.config["JEMPUT_JOB_LEASE_SECONDS"]))


def drain(app: Flask, worker: str, stop: threading.Event | None = None) -> int:
    """Run due jobs until none is left (or ``stop``); how many ran."""
    total = 0
    while stop is None or not stop.is_set():
        ran = runner.run_once(worker, lease=lease(app))
        if not ran:
            break
        total += ran
    return total


def settle(app: Flask, timeout: float = 120.0) -> bool:
    """Run what is due here, then wait until no job is queued or running (another runner's);
    False after ``timeout``. For one-process runs that report right after (the demo)."""
    from server.core.jobs import queue

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        drain(app, worker_name("settle"))
        if queue.pending_count() == 0:
            return True
        time.sleep(0.1)
    return False


def loop(app: Flask, worker: str, stop: threading.Event, wake: threading.Event | None = None
         ) -> None:
    """Run jobs until ``stop``: drain, then sleep ``JEMPUT_JOB_POLL_SECONDS`` (or until woken).

    A database that is down is waited out: the loop logs and tries again after the pause.
    """
    poll = float(app.config["JEMPUT_JOB_POLL_SECONDS"])
    with app.app_context(), log_context(worker=worker):
        log.info("Job worker %s started", worker)
        while not stop.is_set():
            try:
                drain(app, worker, stop)
            except SQLAlchemyError as exc:
                db.session.rollback()
                log.warning("Job queue unreachable (%s); trying again in %.0f s",
                            type(exc).__name__, poll)
            if wake is not None:
                wake.wait(poll)
                wake.clear()
            else:
                stop.wait(poll)
        log.info("Job worker %s stopped", worker)


# --- thread mode (SQLite default) -------------------------------------------------------------


class JobThread:
    """The background thread of one server process."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.stop = threading.Event()
        self.wake = threading.Event()
        self.thread: threading.Thread | None = None
        self.pid = 0
        self._lock = threading.Lock()

    def ensure_started(self) -> None:
        """Start the thread in this process (again after a fork: threads do not survive one)."""
        if self.thread is not None and self.pid == os.getpid() and self.thread.is_alive():
            return
        with self._lock:
            if self.thread is not None and self.pid == os.getpid() and self.thread.is_alive():
                return
            self.pid = os.getpid()
            self.thread = threading.Thread(
                target=loop, args=(self.app, worker_name("thread"), self.stop, self.wake),
                name="jemput-jobs", daemon=True)
            self.thread.start()


def init_thread(app: Flask) -> None:
    """Thread mode: start the process's job thread with its first request."""
    holder = JobThread(app)
    app.extensions[THREAD_KEY] = holder

    @app.before_request
    def _start_job_thread() -> None:
        holder.ensure_started()


def wake() -> None:
    """Tell this process's runner that jobs were just committed: inline mode runs them now,
    thread mode wakes the thread; worker mode has the workers' poll."""
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    mode = app.config["JEMPUT_JOBS"]
    if mode == "inline":
        try:
            drain(app, worker_name("inline"))
        except SQLAlchemyError as exc:  # the jobs stay queued for the next run
            db.session.rollback()
            log.warning("Inline jobs failed to run: %s", type(exc).__name__)
    elif mode == "thread":
        holder: JobThread = app.extensions[THREAD_KEY]
        holder.ensure_started()
        holder.wake.set()


# --- worker processes (PostgreSQL default) ------------------------------------------------------


def serve(app: Flask, processes: int) -> None:
    """``jemput-server worker``: run ``processes`` job loops until SIGTERM/SIGINT.

    One loop runs in this process; more run as child ``jemput-server worker`` processes (each
    with its own database pool), stopped with SIGTERM and started again if one dies.
    """
    if processes <= 1:
        stop = threading.Event()
        _on_stop_signals(stop)
        loop(app, worker_name(), stop)
        return
    stop = threading.Event()
    _on_stop_signals(stop)
    children: list[subprocess.Popen[bytes] | None] = [None] * processes
    while not stop.is_set():
        for index, child in enumerate(children):
            if child is None or child.poll() is not None:
                if child is not None:
                    log.warning("Worker process %d ended (code %s); starting it again",
                                index, child.returncode)
                children[index] = subprocess.Popen([_command(), "worker", "--processes", "1"])
        stop.wait(RESTART_DELAY)
    for child in children:
        if child is not None and child.poll() is None:
            child.send_signal(signal.SIGTERM)
    for child in children:
        if child is not None:
            child.wait()


def _command() -> str:
    """The ``jemput-server`` beside this Python (the console script of this install)."""
    beside = Path(sys.executable).parent / "jemput-server"
    return str(beside) if beside.exists() else sys.argv[0]


def _on_stop_signals(stop: threading.Event) -> None:
    def handle(signum: int, _frame: Any) -> None:
        log.info("Signal %d: stopping after the current job", signum)
        stop.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)


def wait_for(job_id: int, *, timeout: float | None = None, poll: float = 0.5,
             echo: Any = None) -> Any:
    """Follow job ``job_id`` until it is done or failed (or ``timeout``); the job row."""
    from server.core.jobs import queue
    from server.core.models.job import DONE, FAILED

    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        job = queue.get(job_id)
        if job is None or job.state in (DONE, FAILED):
            return job
        if echo is not None and job.progress_total:
            echo(job.progress_done, job.progress_total)
        if deadline is not None and time.monotonic() > deadline:
            return job
        time.sleep(poll)
