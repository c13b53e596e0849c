"""``jemput-server`` commands for review: run the checks, verify the audit chain."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from server.core import anchors, jobs
from server.core.commands import echo_limited, finished_result, plain_errors, progress_bar
from server.review import checks


@click.command("run-checks")
@click.option("--record", "record_ids", multiple=True,
              help="Hanya rekaman ini (boleh diulang); tanpa opsi: semua rekaman.")
@with_appcontext
@plain_errors()
@click.option("--no-wait", is_flag=True,
              help="Hanya antrekan sebagai pekerjaan latar; pekerja yang menjalankannya.")
def run_checks_command(record_ids: tuple[str, ...], no_wait: bool) -> None:
    """Run the reconciliation checks (all records, or the given ones) as a background job:
    here unless a worker takes it first; print the progress and the outcome."""
    if record_ids:
        checks.require_known(record_ids)
    job_id = checks.queue_run(record_ids, created_by="cli", wake=False)
    if no_wait:
        click.echo(f"Pekerjaan #{job_id} diantrekan; lihat kemajuannya dengan jemput-server jobs.")
        return
    with progress_bar("Pemeriksaan", unit="langkah") as progress:
        result = finished_result(jobs.run_or_follow(job_id, progress))
    click.echo(f"Rekaman diperiksa: {result['checked']} ({result['seconds']:.1f} detik).")
    click.echo(f"Menjadi terverifikasi: {result['verified']}; menjadi perlu ditinjau: "
               f"{result['needs_review']}.")
    click.echo(f"Kasus baru: {result['cases_opened']}; kasus selesai sendiri: "
               f"{result['cases_cleared']}.")


@click.command("verify-audit")
@with_appcontext
@plain_errors()
def verify_audit_command() -> None:
    """Recompute the audit chain's hashes and check it against its signed anchors; exit 1
    listing the problems when it was tampered with."""
    verified = anchors.verify()
    report = verified.report
    click.echo(f"Peristiwa audit diperiksa: {report.checked}.")
    click.echo(f"Jangkar bertanda tangan yang sah: {verified.anchors}.")
    if report.ok:
        click.echo("Rantai audit utuh." + (" Cocok dengan setiap jangkar." if verified.anchors
                                           else " Belum ada jangkar: jalankan audit-anchor."))
        return
    echo_limited(report.problems, "masalah")
    raise click.ClickException(
        f"Rantai audit RUSAK: {len(report.problems)} masalah. Log audit telah diubah, dihapus "
        "atau diacak di luar aplikasi."
    )


@click.command("audit-anchor")
@with_appcontext
@plain_errors()
def audit_anchor_command() -> None:
    """Sign the audit chain's head with the audit key and keep it in the blob store (a new
    object, never overwritten); print it for the paper file."""
    anchor = anchors.make()
    click.echo(f"Jangkar audit {anchor.name}: peristiwa {anchor.short}, kunci {anchor.kid}.")


COMMANDS: list[click.Command] = [run_checks_command, verify_audit_command,
                                 audit_anchor_command]
