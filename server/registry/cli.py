"""``jemput-server`` commands for reference data: the region table and the population registry."""

from __future__ import annotations

from collections.abc import Callable

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
    _run_import("Impor wilayah", regions.import_regions, path)


@click.command("import-population")
@click.argument("path", type=click.Path())
@with_appcontext
@plain_errors()
def import_population_command(path: str) -> None:
    """Import (upsert) a SIAK-style resident CSV into the population registry: all rows or none."""
    _run_import("Impor penduduk", population.import_population, path)


def _run_import(desc: str, run: Callable[..., ImportReport], path: str) -> None:
    """Run one import with a progress bar; print the counts and refusals; exit 1 when anything
    was refused (nothing was saved then)."""
    with progress_bar(desc) as progress:
        report = run(path, progress=progress)
    click.echo(f"Baru: {report.imported}, diperbarui: {report.updated}, "
               f"tidak berubah: {report.unchanged}, ditolak: {len(report.refused)}.")
    echo_limited([f"baris {line}: {reason}" for line, reason in report.refused], "baris")
    if not report.ok:
        raise click.ClickException(
            f"{len(report.refused)} baris ditolak; tidak ada yang disimpan. Perbaiki lalu ulangi."
        )


COMMANDS: list[click.Command] = [import_regions_command, import_population_command]
