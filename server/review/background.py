"""The office's "Pekerjaan latar" page: what the job queue holds, and a full check run on demand.

Checks after each push and upload, full check runs and population imports run as background
jobs (:mod:`server.core.jobs`); this page shows each with its state, progress and attempts, so
the office sees a long import or check run advance and sees what failed and why.
"""

from __future__ import annotations

from dataclasses import dataclass

from server.accounts.actor import Actor
from server.core.errors import Forbidden
from server.core.jobs import queue
from server.core.models import Job
from server.review import checks

#: Who may start a full check run (it holds the checks' lock while it runs).
RUN_ROLES = frozenset({"supervisor", "admin"})
SHOWN = 50


@dataclass(frozen=True)
class JobRow:
    """One job as the page shows it."""

    job: Job
    percent: int | None

    @property
    def active(self) -> bool:
        return self.job.state in ("queued", "running")


def recent() -> list[JobRow]:
    """The newest jobs, with their progress in percent where it is known."""
    rows = []
    for job in queue.recent(SHOWN):
        percent = None
        if job.progress_total:
            percent = min(100, job.progress_done * 100 // job.progress_total)
        rows.append(JobRow(job, percent))
    return rows


def start_full_check(actor: Actor) -> int:
    """Queue a check run over every record (supervisors and admins); the job's id."""
    if actor.role not in RUN_ROLES:
        raise Forbidden(f"Peran '{actor.role}' tidak boleh menjalankan pemeriksaan penuh.")
    return checks.queue_run(created_by=actor.username)
