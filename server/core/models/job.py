"""Background jobs: the queue the worker (or, on SQLite, a thread of the server) works off."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from server.core.models.base import Base

#: States of a job: waiting (or waiting for a retry), being run, finished, given up.
QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
JOB_STATES = (QUEUED, RUNNING, DONE, FAILED)


class Job(Base):
    """One unit of background work: checks after a push, a full check run, an import.

    Claimed with ``FOR UPDATE SKIP LOCKED`` (PostgreSQL; on SQLite one statement under the
    write lock), so any number of worker processes on any number of hosts share the queue. A
    running job's worker writes ``heartbeat_at``; a job whose heartbeat stopped for longer
    than the lease (its worker was killed) is queued again, up to ``max_attempts``.
    """

    __tablename__ = "job"
    __table_args__ = (
        # The claim: the oldest queued job that is due.
        Index("ix_job_state_run_after", "state", "run_after"),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    #: What to run: a name registered with ``server.core.jobs.runner.register``.
    kind: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16))
    #: The handler's arguments (JSON); never residents' data, only ids and object names.
    args: Mapped[dict[str, Any]]
    #: What the handler returned (counts, refusals), for the office page and the CLI.
    result: Mapped[dict[str, Any] | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    max_attempts: Mapped[int] = mapped_column(Integer, default=5, server_default="5")
    #: Progress in the handler's unit (bytes read, steps done) out of ``progress_total``.
    progress_done: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    progress_total: Mapped[int | None] = mapped_column(BigInteger)
    #: Why the last attempt failed (an error class and a plain sentence, no residents' data).
    error: Mapped[str | None] = mapped_column(String(500))
    #: The office user who asked for it; None for jobs the system made (checks after a push).
    created_by: Mapped[str | None] = mapped_column(String(64))
    #: ``host:pid`` of the worker running it.
    locked_by: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[dt.datetime]
    #: Not before: a retry waits a little longer after each failed attempt.
    run_after: Mapped[dt.datetime]
    started_at: Mapped[dt.datetime | None]
    heartbeat_at: Mapped[dt.datetime | None]
    finished_at: Mapped[dt.datetime | None]
