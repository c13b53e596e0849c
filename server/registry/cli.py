"""``jemput-server`` commands for reference data: the region table and the population registry."""

from __future__ import annotations

from collections.abc import Callable

import click
from flask.cli import with_appcontext

from server.core import jobs
from server.core.commands import echo_limited, finished_result, plain_errors, progress_bar
from server.registry import imports, regions
from server.registry.regions import ImportReport


@click.command("import-regions")
@click.argument("path", type=click.Path())
@with_appcontext
@plain_errors()
def import_regions_command(path: str) -> None:
    """Import (upsert) a Kemendagri region CSV with columns kode,nama: all rows or none."""
    _run_import("Impor wilayah", regions.import_regions, path)


@click.command("import-population")
@click.argument("path", type=click.Path())
@with_appcontext
@plain_errors()
@click.option("--no-wait", is_flag=True,
              help="Hanya simpan berkas dan antrekan impornya; pekerja yang menjalankannya.")
def import_population_command(path: str, no_wait: bool) -> None:
    """Import (upsert) a SIAK-style resident CSV into the population registry: all rows or none.

    The file is stored in the blob store and imported as a background job: here, unless a
    worker takes it first; either way its progress shows here and on the office's page.
    """
    job_id = imports.queue_import(path, created_by="cli")
    if no_wait:
        click.echo(f"Pekerjaan #{job_id} diantrekan; lihat kemajuannya dengan jemput-server jobs.")
        return
    with progress_bar("Impor penduduk") as progress:
        result = finished_result(jobs.run_or_follow(job_id, progress))
    report = ImportReport(result["imported"], result["updated"], result["unchanged"],
                          [(line, reason) for line, reason in result["refused"]])
    _print_report(report, int(result["refused_count"]))


def _run_import(desc: str, run: Callable[..., ImportReport], path: str) -> None:
    """Run one import with a progress bar, then :func:`_print_report`."""
    with progress_bar(desc) as progress:
        report = run(path, progress=progress)
    _print_report(report, len(report.refused))


def _print_report(report: ImportReport, refused: int) -> None:
    """Print the counts and refusals; exit 1 when anything was refused (nothing was saved)."""
    click.echo(f"Baru: {report.imported}, diperbarui: {report.updated}, "
               f"tidak berubah: {report.unchanged}, ditolak: {refused}.")
    lines = [f"baris {line}: {reason}" for line, reason in report.refused]
    echo_limited(lines, "baris", total=refused)
    if refused:
        raise click.ClickException(
            f"{refused} baris ditolak; tidak ada yang disimpan. Perbaiki lalu ulangi."
        )


COMMANDS: list[click.Command] = [import_regions_command, import_population_command]
