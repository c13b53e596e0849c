"""``jemput-server`` commands for coverage (registered by server/cli.py)."""

from __future__ import annotations

import csv
import sys

import click
from flask.cli import with_appcontext

from server import demo_population
from server.cli_errors import plain_errors
from server.services import coverage
from server.services.coverage import format_number as number
from server.services.coverage import format_percent as percent


@click.command("coverage")
@click.option("--at", help="Tanggal acuan TTTT-BB-HH (bawaan: hari ini, WIB).")
@click.option("--region", help="Kode kabupaten, kecamatan atau desa, mis. 61.09.04.")
@click.option("--csv", "as_csv", is_flag=True, help="Cetak CSV (angka polos), bukan tabel.")
@with_appcontext
def coverage_command(at: str | None, region: str | None, as_csv: bool) -> None:
    """Print coverage (wajib KTP, recorded, not yet, percent) per regency, kecamatan, desa."""
    with plain_errors():
        report = coverage.report(coverage.reference_date(at), region)
    if as_csv:
        writer = csv.DictWriter(sys.stdout, coverage.CSV_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(coverage.csv_rows(report))
        return
    if not report.rows:
        click.echo("Belum ada data penduduk (impor dulu: jemput-server import-population).")
        return
    click.echo(f"Cakupan perekaman KTP-el per {report.at.isoformat()}")
    click.echo(f"{'Kode':<14} {'Wilayah':<24} {'Wajib KTP':>9} {'SIAK':>9} {'Jemput':>7} "
               f"{'Belum':>7} {'%':>6} {'17 th':>6}")
    for row in report.rows:
        indent = {"kabupaten": "", "kecamatan": "  "}.get(row.level, "    ")
        click.echo(f"{row.kode:<14} {(indent + row.nama)[:24]:<24} {number(row.wajib):>9} "
                   f"{number(row.recorded_siak):>9} {number(row.recorded_jemput):>7} "
                   f"{number(row.not_recorded):>7} {percent(row.percent):>6} "
                   f"{number(row.turning_17):>6}")
    click.echo("SIAK: sudah rekam sebelum Jemput; Jemput: direkam lewat Jemput; "
               "17 th: berumur 17 dalam 3 bulan ke depan.")


@click.command("demo-population")
@click.option("--scale", type=click.FloatRange(0, 1, min_open=True), default=1.0,
              show_default=True, help="Bagian dari populasi penuh (0,1 = 10 %).")
@click.option("--at", help="Tanggal acuan TTTT-BB-HH (bawaan: hari ini, WIB).")
@click.option("--seed", type=int, default=demo_population.DEFAULT_SEED, show_default=True,
              help="Benih acak: benih yang sama, penduduk yang sama.")
@click.option("--replace", is_flag=True, help="Ganti seluruh registri penduduk yang ada.")
@with_appcontext
def demo_population_command(scale: float, at: str | None, seed: int, replace: bool) -> None:
    """Load the Sekadau regions and a synthetic registry (148,293 wajib KTP at scale 1)."""
    with plain_errors():
        summary = demo_population.load(scale, at=coverage.reference_date(at), seed=seed,
                                       replace=replace)
    click.echo(f"Penduduk demo dimuat: {number(summary.residents)} di {summary.desa} desa; "
               f"wajib KTP {number(summary.wajib)}, sudah rekam {number(summary.recorded)} "
               f"({percent(coverage.share(summary.recorded, summary.wajib))} %), "
               f"{summary.seconds:.1f} detik.")


COMMANDS: list[click.Command] = [coverage_command, demo_population_command]
