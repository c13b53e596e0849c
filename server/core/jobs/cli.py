"""``jemput-server worker`` (run the queue) and ``jemput-server jobs`` (what it holds)."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from server.core.commands import echo_json
from server.core.jobs import queue, worker
from server.core.models.job import Job
from server.core.timeutil import office_time
from shared.labels import JOB_KIND_LABELS, JOB_STATE_LABELS


@click.command("worker")
@click.option("--processes", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Proses pekerja yang berjalan bersamaan.")
@with_appcontext
def worker_command(processes: int) -> None:
    """Run background jobs (checks, full check runs, imports) until SIGTERM or Ctrl-C."""
    click.echo(f"Pekerja Jemput berjalan ({processes} proses); hentikan dengan Ctrl-C.",
               err=True)
    worker.serve(current_app._get_current_object(), processes)  # type: ignore[attr-defined]


@click.command("jobs")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Cetak sebagai JSON.")
@with_appcontext
def jobs_command(limit: int, as_json: bool) -> None:
    """List the newest background jobs: state, progress, attempts, error."""
    jobs = queue.recent(limit)
    if as_json:
        echo_json([describe(job) for job in jobs])
        return
    if not jobs:
        click.echo("Belum ada pekerjaan latar.")
        return
    for job in jobs:
        click.echo(line(job))


def describe(job: Job) -> dict[str, object]:
    """A job as ``jobs --json`` prints it."""
    return {
        "id": job.id, "kind": job.kind, "state": job.state, "attempts": job.attempts,
        "progress_done": job.progress_done, "progress_total": job.progress_total,
        "result": job.result, "error": job.error, "created_by": job.created_by,
        "locked_by": job.locked_by, "created_at": job.created_at,
        "started_at": job.started_at, "finished_at": job.finished_at,
    }


def percent(job: Job) -> str:
    """``45%`` of a job with a known total, else empty."""
    if not job.progress_total:
        return ""
    return f"{min(100, job.progress_done * 100 // job.progress_total)}%"


def line(job: Job) -> str:
    """One job in a line, in the office's words."""
    parts = [f"#{job.id}", JOB_KIND_LABELS.get(job.kind, job.kind),
             JOB_STATE_LABELS.get(job.state, job.state)]
    if percent(job) and job.state == "running":
        parts.append(percent(job))
    parts.append(f"percobaan {job.attempts}")
    parts.append(office_time(job.created_at))
    if job.error:
        parts.append(f"- {job.error}")
    return "  ".join(parts)


COMMANDS: list[click.Command] = [worker_command, jobs_command]
