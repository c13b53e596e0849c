"""``jemput-server coverage``: who must hold an e-KTP and who is recorded, as a table or CSV."""

from __future__ import annotations

import csv
import sys

import click
from flask.cli import with_appcontext

from server.core.commands import plain_errors
from server.coverage import figures
from shared.display import format_number as number
from shared.display import format_percent as percent


@click.command("coverage")
@click.option("--at", help="Tanggal acuan TTTT-BB-HH (bawaan: hari ini, WIB).")
@click.option("--region", help="Kode kabupaten, kecamatan atau desa, mis. 61.09.04.")
@click.option("--csv", "as_csv", is_flag=True, help="Cetak CSV (angka polos), bukan tabel.")
@with_appcontext
def coverage_command(at: str | None, region: str | None, as_csv: bool) -> None:
    """Print coverage (wajib KTP, recorded, not yet, percent) per regency, kecamatan, desa."""
    with plain_errors():
        report = figures.report(figures.reference_date(at), region)
    if as_csv:
        writer = csv.DictWriter(sys.stdout, figures.CSV_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(figures.csv_rows(report))
        return
    if not report.rows:
        click.echo("Belum ada data penduduk (impor dulu: jemput-server import-population).")
        return
    click.echo(f"Cakupan perekaman KTP-el per {report.at.isoformat()}")
    click.echo(f"{'Kode':<14} {'Wilayah':<24} {'Wajib KTP':>9} {'SIAK':>9} {'Jemput':>7} "
               f"{'Belum':>7} {'%':>6} {'17 th':>6}")
    for row in report.rows:
        indent = {"provinsi": "", "kabupaten": "", "kecamatan": "  "}.get(row.level, "    ")
        click.echo(f"{row.kode:<14} {(indent + row.nama)[:24]:<24} {number(row.wajib):>9} "
                   f"{number(row.recorded_siak):>9} {number(row.recorded_jemput):>7} "
                   f"{number(row.not_recorded):>7} {percent(row.percent):>6} "
                   f"{number(row.turning_17):>6}")
    click.echo("SIAK: sudah rekam sebelum Jemput; Jemput: direkam lewat Jemput; "
               "17 th: berumur 17 dalam 3 bulan ke depan.")


COMMANDS: list[click.Command] = [coverage_command]
