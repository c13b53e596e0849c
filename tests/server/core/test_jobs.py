"""The job queue on both databases: one claim per job, retries, dead workers, take-overs.

Handlers of a test kind record what they ran; the queue's own rules are asserted on the rows.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
import threading
from collections.abc import Sequence
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select, update

from server.core.extensions import db
from server.core.jobs import queue, runner, worker
from server.core.jobs.queue import Claimed
from server.core.jobs.runner import Permanent, Progress
from server.core.models import Job
from server.core.models.base import table_of
from server.core.timeutil import utcnow

KIND = "test_echo"
LEASE = dt.timedelta(seconds=30)


@pytest.fixture
def ran(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Register the test kind: its handler notes each job id it ran (batches of 5)."""
    seen: list[int] = []
    lock = threading.Lock()

    def echo(jobs: Sequence[Claimed], progress: Progress) -> dict[str, Any]:
        with lock:
            seen.extend(job.id for job in jobs)
        progress(len(jobs), len(jobs))
        return {"ran": [job.id for job in jobs]}

    monkeypatch.setitem(runner._HANDLERS, KIND, runner.Handler(KIND, echo, batch=5))
    return seen


def add_jobs(count: int, kind: str = KIND, **options: Any) -> list[int]:
    ids = [queue.enqueue(kind, {"n": n}, **options) for n in range(count)]
    db.session.commit()
    return ids


def job(job_id: int) -> Job:
    found = queue.get(job_id)
    assert found is not None
    return found


def test_concurrent_workers_run_each_job_exactly_once(app: Flask, ran: list[int]) -> None:
    with app.app_context():
        ids = add_jobs(60)

    def work(name: str) -> None:
        with app.app_context():
            while runner.run_once(name, lease=LEASE):
                pass

    # Names as worker_name() makes them (SQLite reclaims a job whose process is gone).
    threads = [threading.Thread(target=work, args=(f"{socket.gethostname()}:{os.getpid()}:t{n}",))
               for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(ran) == ids  # every job once, none twice
    with app.app_context():
        states = db.session.execute(select(Job.state, Job.attempts, func.count())
                                    .group_by(Job.state, Job.attempts)).all()
        assert [tuple(row) for row in states] == [("done", 1, 60)]
        assert job(ids[0]).result == {"ran": job(ids[0]).result["ran"]}
        assert job(ids[0]).progress_done == job(ids[0]).progress_total


def test_a_failed_attempt_waits_then_is_retried_and_finally_given_up(
        app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []

    def broken(jobs: Sequence[Claimed], _progress: Progress) -> None:
        calls.append(jobs[0].attempts)
        db.session.execute(update(table_of(Job)).values(created_by="written-then-undone"))
        raise RuntimeError("resident Siti Aminah 6109040101900001")  # never shown or stored

    monkeypatch.setitem(runner._HANDLERS, KIND, runner.Handler(KIND, broken))
    with app.app_context():
        (job_id,) = add_jobs(1, max_attempts=2)
        assert runner.run_once("w", lease=LEASE) == 1
        first = job(job_id)
        assert (first.state, first.attempts, first.created_by) == ("queued", 1, None)
        assert first.error == "Kesalahan RuntimeError; diulang."  # the text may carry data
        assert first.run_after > utcnow()
        assert runner.run_once("w", lease=LEASE) == 0  # not due yet
        db.session.execute(update(table_of(Job)).values(run_after=utcnow()))
        db.session.commit()
        assert runner.run_once("w", lease=LEASE) == 1
        last = job(job_id)
        assert (last.state, last.attempts, last.finished_at is not None) == ("failed", 2, True)
    assert calls == [1, 2]


def test_a_permanent_failure_is_given_up_at_once(app: Flask,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(_jobs: Sequence[Claimed], _progress: Progress) -> None:
        raise Permanent("Berkas impor tidak ada lagi di penyimpanan; unggah ulang.")

    monkeypatch.setitem(runner._HANDLERS, KIND, runner.Handler(KIND, refuse))
    with app.app_context():
        (job_id,) = add_jobs(1)
        runner.run_once("w", lease=LEASE)
        ended = job(job_id)
        assert (ended.state, ended.attempts) == ("failed", 1)
        assert ended.error == "Berkas impor tidak ada lagi di penyimpanan; unggah ulang."


def test_a_kind_this_worker_does_not_know_waits_for_one_that_does(app: Flask) -> None:
    with app.app_context():
        (job_id,) = add_jobs(1, kind="from_a_newer_host")
        runner.run_once("w", lease=LEASE)
        waiting = job(job_id)
        assert waiting.state == "queued" and "tidak dikenal" in str(waiting.error)


def dead_pid() -> int:
    done = subprocess.run(["true"], check=True)
    assert done.returncode == 0
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def test_the_job_of_a_dead_worker_is_run_again_a_live_ones_is_not(
        app: Flask, ran: list[int]) -> None:
    with app.app_context():
        dead, alive = add_jobs(2)
        host = socket.gethostname()
        postgres = db.engine.dialect.name == "postgresql"
        for job_id, owner, beat in (
                (dead, f"{host}:{dead_pid()}:worker", utcnow() - 2 * LEASE),
                (alive, f"{host}:{os.getpid()}:worker", utcnow())):
            db.session.execute(update(table_of(Job)).where(Job.id == job_id).values(
                state="running", attempts=1, locked_by=owner, heartbeat_at=beat))
        db.session.commit()
        # PostgreSQL: gone when its heartbeat is older than the lease; SQLite: when its
        # process is (the one host's pid table).
        assert queue.reclaim(LEASE) == (1, [])
        assert runner.run_once("new", lease=LEASE) == 1
        again = job(dead)
        assert (again.state, again.attempts, again.locked_by) == ("done", 2, "new")
        assert job(alive).state == "running"
        assert ran == [dead]
        if postgres:  # a stale beat alone is enough across hosts
            db.session.execute(update(table_of(Job)).where(Job.id == alive).values(
                locked_by="other-host:1:worker", heartbeat_at=utcnow() - 2 * LEASE))
            db.session.commit()
            assert queue.reclaim(LEASE) == (1, []) and job(alive).state == "queued"


def test_a_job_whose_worker_died_on_its_last_attempt_is_given_up_and_cleaned_up(
        app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    cleaned: list[int] = []
    monkeypatch.setitem(runner._HANDLERS, KIND, runner.Handler(
        KIND, lambda jobs, progress: {}, finished=lambda jobs: cleaned.extend(j.id for j in jobs)))
    with app.app_context():
        (job_id,) = add_jobs(1, max_attempts=2)
        db.session.execute(update(table_of(Job)).where(Job.id == job_id).values(
            state="running", attempts=2, heartbeat_at=utcnow() - 2 * LEASE,
            locked_by=f"{socket.gethostname()}:{dead_pid()}:worker"))
        db.session.commit()
        assert runner.run_once("w", lease=LEASE) == 0  # nothing left to run
        ended = job(job_id)
        assert (ended.state, ended.attempts) == ("failed", 2)
        assert ended.error == "Pekerja berhenti di tengah pekerjaan pada percobaan terakhir."
    assert cleaned == [job_id]  # e.g. an import's stored file is deleted


def test_a_worker_whose_job_was_taken_over_commits_nothing(
        app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    def writes(jobs: Sequence[Claimed], _progress: Progress) -> dict[str, Any]:
        # Meanwhile the lease ran out and another worker claimed the job.
        with db.engine.begin() as other:
            other.execute(update(table_of(Job)).where(Job.id == jobs[0].id)
                          .values(locked_by="other:1:worker"))
        queue.enqueue("side_effect", {"of": jobs[0].id})
        return {}

    monkeypatch.setitem(runner._HANDLERS, KIND, runner.Handler(KIND, writes))
    with app.app_context():
        (job_id,) = add_jobs(1)
        claimed = queue.claim("me")
        assert runner.run_claimed(claimed, "me") is False
        assert db.session.execute(select(func.count()).select_from(Job)
                                  .where(Job.kind == "side_effect")).scalar() == 0
        held = job(job_id)
        assert (held.state, held.locked_by) == ("running", "other:1:worker")


def test_the_checks_of_many_pushes_run_as_one_check_run(
        app: Flask, push: Any, make_record: Any) -> None:
    app.config["JEMPUT_JOBS"] = "worker"  # app servers only enqueue
    records = [make_record(attachments=0) for _ in range(3)]
    for record in records:
        assert push([record]).status_code == 200
    with app.app_context():
        from server.core.models import Enrollment

        states = set(db.session.execute(select(Enrollment.state)).scalars())
        assert states == {"complete"}
        queued = queue.recent()
        assert [(j.kind, j.state) for j in queued] == [("check_records", "queued")] * 3
        assert worker.drain(app, "w") == 3
        states = set(db.session.execute(select(Enrollment.state)).scalars())
        assert states <= {"verified", "needs_review"} and states
        results = {str(job(j.id).result) for j in queued}
        assert len(results) == 1 and "'checked': 3" in results.pop()  # one run, three jobs


def test_a_claim_takes_no_more_than_its_limit_among_many_kinds(app: Flask) -> None:
    """One claim, one job: never a second one (of another kind) run by the first's handler.
    PostgreSQL may evaluate an ``IN (SELECT ... LIMIT 1 FOR UPDATE SKIP LOCKED)`` subquery
    more than once in an UPDATE; the claim's CTE is materialised."""
    with app.app_context():
        for number in range(60):
            queue.enqueue("check_records" if number % 3 else "refresh_coverage", {"n": number})
        # Some already-run history, as a busy queue has.
        db.session.execute(update(table_of(Job)).where(table_of(Job).c.id % 4 == 0)
                           .values(state="done"))
        db.session.commit()
        queued = db.session.execute(
            select(func.count()).select_from(Job).where(Job.state == "queued")).scalar_one()
        claims = [queue.claim("w") for _ in range(queued)]
        assert [len(claim) for claim in claims] == [1] * queued
        assert queue.claim("w") == []
        ids = [claim[0].id for claim in claims]
        assert ids == sorted(ids) and len(set(ids)) == queued
