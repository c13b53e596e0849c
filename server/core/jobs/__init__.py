"""Background jobs on the database the server already has: a table used as a queue.

- :mod:`queue`: enqueue, claim (``FOR UPDATE SKIP LOCKED``), heartbeat, finish, fail, reclaim.
- :mod:`runner`: the handlers domains register per kind, and running claimed jobs.
- :mod:`worker`: who runs them: ``jemput-server worker`` processes (PostgreSQL), a thread of
  each server process (SQLite), or inline after the request's commit (``JEMPUT_JOBS``).
- :mod:`cli`: ``jemput-server worker`` and ``jemput-server jobs``.

A domain enqueues with :func:`queue.enqueue` inside its own transaction, commits, then calls
:func:`worker.wake`. A command that starts a long job (``run-checks``, ``import-population``)
calls :func:`run_or_follow`: it runs the job itself unless a worker took it first, and either
way shows its progress.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask

from server.core.jobs import queue, runner, worker
from server.core.models.job import Job


def init_app(app: Flask) -> None:
    """The runner this app's processes use, and the commands."""
    from server.core.jobs import cli

    if app.config["JEMPUT_JOBS"] == "thread":
        worker.init_thread(app)
    for command in cli.COMMANDS:
        app.cli.add_command(command)


def run_or_follow(job_id: int, echo: Callable[[int, int], None] | None = None) -> Job:
    """Run job ``job_id`` in this process if no worker has taken it yet, else follow it to
    its end; the job as it ended (or as it stands, queued for a retry, after a failed run)."""
    name = worker.worker_name("cli")
    claimed = queue.claim(name, job_id=job_id)
    if claimed:
        runner.run_claimed(claimed, name, echo)
        job = queue.get(job_id)
    else:
        job = worker.wait_for(job_id, echo=echo)
    assert job is not None, "a job is never deleted"
    return job
