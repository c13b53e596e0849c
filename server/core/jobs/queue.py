"""The job table as a queue: enqueue, claim, heartbeat, finish, fail, reclaim.

A claim is one ``UPDATE ... WHERE id IN (SELECT ... FOR UPDATE SKIP LOCKED) RETURNING``: on
PostgreSQL concurrent workers skip each other's rows (as ODK Central's worker does); SQLite has
one writer, so the same statement is atomic there without the clause. A worker marks its jobs
done in the transaction that holds their effects (:func:`finish`), and only while it still holds
them: a worker whose lease ran out (it stalled, another took the job over) rolls back instead,
so a job's effects are committed once.

Heartbeats and progress are written on a connection of their own, so they are seen while the
job's own transaction is still open.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from flask import current_app
from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.exc import OperationalError

from server.core.extensions import db, sqlite_busy_ms
from server.core.models.base import table_of
from server.core.models.job import DONE, FAILED, QUEUED, RUNNING, Job
from server.core.timeutil import utcnow

#: A retry waits this long times 2**(attempt - 1), at most ``MAX_BACKOFF``.
BACKOFF = dt.timedelta(seconds=2)
MAX_BACKOFF = dt.timedelta(minutes=5)
ERROR_LIMIT = 500


class LeaseLost(RuntimeError):
    """Another worker took this job over (our heartbeat stopped too long): roll back."""


@dataclass(frozen=True)
class Claimed:
    """A job this worker now runs."""

    id: int
    kind: str
    args: dict[str, Any]
    attempts: int
    max_attempts: int


def enqueue(kind: str, args: dict[str, Any], *, created_by: str | None = None,
            max_attempts: int = 5) -> int:
    """Add a job to the session's transaction (the caller commits); its id."""
    now = utcnow()
    job = Job(kind=kind, state=QUEUED, args=args, created_by=created_by, attempts=0,
              max_attempts=max_attempts, progress_done=0, created_at=now, run_after=now)
    db.session.add(job)
    db.session.flush()
    return job.id


def claim(worker: str, *, kinds: Collection[str] | None = None, limit: int = 1,
          job_id: int | None = None) -> list[Claimed]:
    """Take up to ``limit`` due jobs (of ``kinds``, or job ``job_id``) for ``worker``; commit."""
    table, now = table_of(Job), utcnow()
    due = select(Job.id).where(Job.state == QUEUED, Job.run_after <= now)
    if kinds is not None:
        due = due.where(Job.kind.in_(sorted(kinds)))
    if job_id is not None:
        due = due.where(Job.id == job_id)
    # A materialised CTE: PostgreSQL may run an ``IN (SELECT ... LIMIT n FOR UPDATE SKIP
    # LOCKED)`` subquery more than once in one UPDATE, each time skipping what it locked
    # before, and so claim more than ``limit`` jobs (of other kinds too): seen in the cluster
    # test, a check job "done" by the coverage refresh claimed with it.
    picked = (due.order_by(Job.id).limit(limit).with_for_update(skip_locked=True)
              .cte("picked").prefix_with("MATERIALIZED", dialect="postgresql"))
    rows = db.session.execute(
        update(table).where(table.c.id.in_(select(picked.c.id)), table.c.state == QUEUED)
        .values(state=RUNNING, attempts=table.c.attempts + 1, locked_by=worker,
                started_at=now, heartbeat_at=now, error=None)
        .returning(table.c.id, table.c.kind, table.c.args, table.c.attempts,
                   table.c.max_attempts)
    ).all()
    db.session.commit()
    return sorted((Claimed(row.id, row.kind, dict(row.args), row.attempts, row.max_attempts)
                   for row in rows), key=lambda job: job.id)


def finish(jobs: Sequence[Claimed], worker: str, result: dict[str, Any] | None,
           progress: tuple[int, int] | None = None) -> None:
    """Mark ``jobs`` done in the current transaction (the caller commits), with their last
    ``(done, total)``; raise :class:`LeaseLost` when another worker holds any of them now."""
    table, now = table_of(Job), utcnow()
    ids = [job.id for job in jobs]
    values: dict[str, Any] = {"state": DONE, "result": result, "finished_at": now,
                              "heartbeat_at": now}
    if progress is not None:
        values["progress_done"], values["progress_total"] = progress
    done = db.session.execute(
        update(table).where(table.c.id.in_(ids), table.c.state == RUNNING,
                            table.c.locked_by == worker)
        .values(**values)
        .returning(table.c.id)
    ).scalars().all()
    if len(done) != len(ids):
        raise LeaseLost(f"job(s) {sorted(set(ids) - set(done))} were taken over")


def fail(jobs: Sequence[Claimed], worker: str, error: str, *, final: bool = False) -> None:
    """After a failed attempt (rolled back): queue ``jobs`` again later, or give them up after
    their last attempt (or at once when ``final``); commit."""
    table, now = table_of(Job), utcnow()
    for job in jobs:
        last = final or job.attempts >= job.max_attempts
        wait = min(BACKOFF * 2 ** (job.attempts - 1), MAX_BACKOFF)
        db.session.execute(
            update(table).where(table.c.id == job.id, table.c.state == RUNNING,
                                table.c.locked_by == worker)
            .values(state=FAILED if last else QUEUED, error=error[:ERROR_LIMIT],
                    locked_by=None, run_after=now + wait, finished_at=now if last else None))
    db.session.commit()


def reclaim(lease: dt.timedelta) -> tuple[int, list[Claimed]]:
    """Queue again (or give up) running jobs whose worker is gone; commit. How many, and the
    jobs given up (their cleanup is the runner's).

    On PostgreSQL a worker is gone when it stopped beating ``lease`` ago (workers run on many
    hosts). SQLite is one host, and a job holds its one write lock, so no beat can be written
    while it runs: there a worker is gone when its process is (``locked_by`` names it).
    Each attempt is counted when it is claimed, so a job that kills its worker every time ends
    ``failed`` after ``max_attempts`` instead of looping.
    """
    table, now = table_of(Job), utcnow()
    if db.session.get_bind().dialect.name == "sqlite":
        running = db.session.execute(
            select(Job.id, Job.locked_by).where(Job.state == RUNNING)).all()
        gone = [row.id for row in running if not process_alive(row.locked_by)]
        if not gone:
            db.session.commit()
            return 0, []
        stale = table.c.id.in_(gone) & (table.c.state == RUNNING)
    else:
        stale = (table.c.state == RUNNING) & (table.c.heartbeat_at < now - lease)
    message = "Pekerja berhenti di tengah pekerjaan; diulang."
    again = db.session.execute(
        update(table).where(stale, table.c.attempts < table.c.max_attempts)
        .values(state=QUEUED, locked_by=None, run_after=now, error=message)
    ).rowcount  # type: ignore[attr-defined]
    given_up = [Claimed(row.id, row.kind, dict(row.args), row.attempts, row.max_attempts)
                for row in db.session.execute(
        update(table).where(stale, table.c.attempts >= table.c.max_attempts)
        .values(state=FAILED, locked_by=None, finished_at=now,
                error="Pekerja berhenti di tengah pekerjaan pada percobaan terakhir.")
        .returning(table.c.id, table.c.kind, table.c.args, table.c.attempts,
                   table.c.max_attempts))]
    db.session.commit()
    return int(again or 0) + len(given_up), given_up


def process_alive(locked_by: str | None) -> bool:
    """Whether the ``host:pid:role`` holding a job is a live process of this host."""
    host, _, rest = (locked_by or "").partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def beat(ids: Collection[int], worker: str, *, done: int | None = None,
         total: int | None = None) -> bool:
    """Heartbeat (and progress) of running jobs, on a connection of its own (autocommit);
    False when it could not be written without waiting (SQLite while a job holds the write
    lock: the job's progress then shows when it ends)."""
    if not ids:
        return True
    table = table_of(Job)
    values: dict[str, Any] = {"heartbeat_at": utcnow()}
    if done is not None:
        values["progress_done"] = done
    if total is not None:
        values["progress_total"] = total
    sqlite = db.engine.dialect.name == "sqlite"
    with db.engine.connect() as connection:
        try:
            if sqlite:
                connection.exec_driver_sql("PRAGMA busy_timeout=0")
            connection.execute(update(table).where(
                table.c.id.in_(sorted(ids)), table.c.state == RUNNING,
                table.c.locked_by == worker,
            ).values(**values))
            connection.commit()
        except OperationalError:
            connection.rollback()
            if not sqlite:
                raise
            return False
        finally:
            if sqlite:
                busy = sqlite_busy_ms(current_app)
                connection.exec_driver_sql(f"PRAGMA busy_timeout={busy}")
    return True


def get(job_id: int) -> Job | None:
    """One job, read fresh (ends the read transaction)."""
    db.session.expire_all()
    job = db.session.get(Job, job_id)
    db.session.commit()
    return job


def recent(limit: int = 50, kinds: Collection[str] | None = None) -> list[Job]:
    """The newest jobs first (ends the read transaction)."""
    query = select(Job).order_by(Job.id.desc()).limit(limit)
    if kinds is not None:
        query = query.where(Job.kind.in_(sorted(kinds)))
    jobs = list(db.session.execute(query).scalars())
    db.session.commit()
    return jobs


def pending_count() -> int:
    """Jobs running, or queued and due now (ends the read transaction). A job queued to run
    later (a coverage refresh that waits out its interval) is not pending yet."""
    due = or_(Job.state == RUNNING, and_(Job.state == QUEUED, Job.run_after <= utcnow()))
    count = db.session.execute(select(func.count()).select_from(Job).where(due)).scalar()
    db.session.commit()
    return int(count or 0)
