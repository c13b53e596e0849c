"""``jemput-server`` commands for reference data: the region table and the population registry."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from server.core.commands import echo_limited, plain_errors, progress_bar
from server.registry import population, regions
from server.registry.regions import ImportReport


@click.command("import-regions")
@click.argument("path", type=click.Path())
@with_appcontext
@plain_errors()
def import_regions_command(path: str) -> None:
    """Import (upsert) a Kemendagri region CSV with columns kode,nama: all rows or none."""
    with progress_bar("Impor wilayah") as progress:
        report = regions.import_regions(path, progress=progress)
    _finish_import(report)


@click.command("import-population")
@click.argument("path", type=click.Path())
@with_appcontext
@plain_errors()
def import_population_command(path: str) -> None:
    """Import (upsert) a SIAK-style resident CSV into the population registry: all rows or none."""
    with progress_bar("Impor penduduk") as progress:
        report = population.import_population(path, progress=progress)
    _finish_import(report)


def _finish_import(report: ImportReport) -> None:
    """Print the counts and refusals; exit 1 when anything was refused (nothing was saved)."""
    _print_import(report)
    if not report.ok:
        raise click.ClickException(
            f"{len(report.refused)} baris ditolak; tidak ada yang disimpan. Perbaiki lalu ulangi."
        )


def _print_import(report: ImportReport) -> None:
    click.echo(f"Baru: {report.imported}, diperbarui: {report.updated}, "
               f"tidak berubah: {report.unchanged}, ditolak: {len(report.refused)}.")
    echo_limited([f"baris {line}: {reason}" for line, reason in report.refused], "baris")


COMMANDS: list[click.Command] = [import_regions_command, import_population_command]
