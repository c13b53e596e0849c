"""``jemput-server``: Flask's ``run`` and ``db`` plus the office's own commands.

Each command parses its arguments, calls one service function and prints the result; a
``JemputError`` becomes a plain message and exit status 1, never a traceback.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar, cast

import click
from flask import Flask
from flask.cli import FlaskGroup, ScriptInfo, with_appcontext
from tqdm import tqdm

from server import cli_blanko, cli_coverage, cli_outreach, cli_suket
from server.accounts import cli as cli_operators
from server.accounts import devices, setup, users
from server.core import audit
from server.core.errors import JemputError
from server.core.models import ROLES
from server.core.timeutil import utcnow
from server.registry import population, regions
from server.registry.regions import ImportReport, Progress
from server.review import checks
from server.sync import completeness
from server.sync.uploads import lifecycle

F = TypeVar("F", bound=Callable[..., Any])
MAX_REFUSED_SHOWN = 50


def user_errors(command: F) -> F:
    """Turn a domain error into ``Galat: ...`` on stderr and exit status 1."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except JemputError as exc:
            raise click.ClickException(exc.detail) from exc

    return cast(F, wrapper)


@click.command("init")
@with_appcontext
@user_errors
def init_command() -> None:
    """Create or upgrade the database, load the Sekadau regions, create the first admin."""
    report = setup.initialize()
    click.echo(f"Basis data siap. Wilayah Sekadau: {report.regions.imported} baru, "
               f"{report.regions.updated} diperbarui.")
    if report.admin_password is None:
        click.echo("Pengguna 'admin' sudah ada; kata sandinya tidak ditampilkan lagi.")
    else:
        click.echo("Pengguna 'admin' dibuat. Kata sandi (catat sekarang, hanya tampil sekali):")
        click.echo(f"  {report.admin_password}")


@click.command("create-user")
@click.argument("name")
@click.option("--role", required=True, help=f"Peran: {', '.join(ROLES)}.")
@with_appcontext
@user_errors
def create_user_command(name: str, role: str) -> None:
    """Create an office user and print its password once."""
    password = users.create_user(name, role)
    click.echo(f"Pengguna '{name.strip().lower()}' ({role}) dibuat. Kata sandi (hanya tampil "
               f"sekali):\n  {password}")


@click.command("user-token")
@click.argument("name")
@with_appcontext
@user_errors
def user_token_command(name: str) -> None:
    """Issue an API token for an office user's scripts (replaces the user's older token)."""
    token = users.issue_api_token(name)
    click.echo(f"Token API untuk '{name.strip().lower()}' (hanya tampil sekali; token lama tidak "
               f"berlaku lagi):\n  {token}")


@click.command("device-code")
@click.option("--team", required=True, help="Tim penjangkauan yang memakai perangkat.")
@click.option("--ttl-hours", type=click.FloatRange(min=0, min_open=True), default=24.0,
              show_default=True, help="Masa berlaku kode, dalam jam.")
@click.option("--kecamatan", help="Kode kecamatan tugas tim, mis. 61.09.04.")
@with_appcontext
@user_errors
def device_code_command(team: str, ttl_hours: float, kecamatan: str | None) -> None:
    """Create a one-time code that registers one field device."""
    ttl = dt.timedelta(hours=ttl_hours)
    code = devices.create_registration_code(team, ttl=ttl, kecamatan_kode=kecamatan)
    expires = (utcnow() + ttl).strftime("%Y-%m-%d %H:%M UTC")
    click.echo(f"Kode pendaftaran untuk tim {team}: {code}")
    if kecamatan:
        click.echo(f"Wilayah tugas: kecamatan {kecamatan.strip()}.")
    click.echo(f"Berlaku sekali pakai, sampai {expires}.")


@click.command("revoke-device")
@click.argument("device_id")
@with_appcontext
@user_errors
def revoke_device_command(device_id: str) -> None:
    """Revoke a device: its token stops working at once."""
    devices.revoke_device(device_id)
    click.echo(f"Perangkat {device_id} dicabut aksesnya.")


@click.command("import-regions")
@click.argument("path", type=click.Path())
@with_appcontext
@user_errors
def import_regions_command(path: str) -> None:
    """Import (upsert) a Kemendagri region CSV with columns kode,nama: all rows or none."""
    with _progress_bar("Impor wilayah") as progress:
        report = regions.import_regions(path, progress=progress)
    _finish_import(report)


@click.command("import-population")
@click.argument("path", type=click.Path())
@with_appcontext
@user_errors
def import_population_command(path: str) -> None:
    """Import (upsert) a SIAK-style resident CSV into the population registry: all rows or none."""
    with _progress_bar("Impor penduduk") as progress:
        report = population.import_population(path, progress=progress)
    _finish_import(report)


def _finish_import(report: ImportReport) -> None:
    """Print the counts and refusals; exit 1 when anything was refused (nothing was saved)."""
    _print_import(report)
    if not report.ok:
        raise click.ClickException(
            f"{len(report.refused)} baris ditolak; tidak ada yang disimpan. Perbaiki lalu ulangi."
        )


@contextmanager
def _progress_bar(desc: str) -> Iterator[Progress | None]:
    """A byte-based tqdm bar on a terminal, nothing when output goes to a file or a test."""
    if not sys.stderr.isatty():
        yield None
        return
    with tqdm(unit="B", unit_scale=True, desc=desc) as bar:

        def update(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        yield update


def _print_import(report: ImportReport) -> None:
    click.echo(f"Baru: {report.imported}, diperbarui: {report.updated}, "
               f"tidak berubah: {report.unchanged}, ditolak: {len(report.refused)}.")
    for line, reason in report.refused[:MAX_REFUSED_SHOWN]:
        click.echo(f"  baris {line}: {reason}", err=True)
    if len(report.refused) > MAX_REFUSED_SHOWN:
        click.echo(f"  ... dan {len(report.refused) - MAX_REFUSED_SHOWN} baris lagi.", err=True)


@click.command("clean-uploads")
@with_appcontext
@user_errors
def clean_uploads_command() -> None:
    """Delete expired partial uploads and leftovers; complete records whose files all arrived."""
    report = lifecycle.clean_expired_uploads()
    click.echo(f"Unggahan kedaluwarsa dibersihkan: {report.expired}.")
    click.echo(f"Berkas sisa tanpa unggahan aktif dihapus: {report.leftovers}.")
    click.echo(f"Rekaman yang ternyata sudah lengkap: {report.completed}.")


@click.command("incomplete")
@click.option("--device", "device_id", help="Hanya perangkat dengan id ini.")
@click.option("--json", "as_json", is_flag=True, help="Keluaran JSON.")
@with_appcontext
@user_errors
def incomplete_command(device_id: str | None, as_json: bool) -> None:
    """List, per device, records still waiting for files and which files they wait for."""
    devices_waiting = completeness.incomplete_records(device_id)
    if as_json:
        click.echo(json.dumps(devices_waiting, indent=2, ensure_ascii=False))
        return
    if not devices_waiting:
        click.echo("Semua rekaman sudah lengkap berkasnya.")
        return
    for device in devices_waiting:
        click.echo(f"Perangkat {device['name']} ({device['device_id']}), tim {device['team']}: "
                   f"{len(device['records'])} rekaman belum lengkap")
        click.echo(f"  {'Rekaman':<36}  {'No. urut':>8}  {'Diterima (UTC)':<20}  Berkas belum ada")
        for record in device["records"]:
            roles = ", ".join(f"{m['role']} ({m['sha256'][:12]})" for m in record["missing"])
            click.echo(f"  {record['id']:<36}  {record['seq']:>8}  "
                       f"{record['received_at'][:19].replace('T', ' '):<20}  {roles}")


@click.command("run-checks")
@click.option("--record", "record_ids", multiple=True,
              help="Hanya rekaman ini (boleh diulang); tanpa opsi: semua rekaman.")
@with_appcontext
@user_errors
def run_checks_command(record_ids: tuple[str, ...]) -> None:
    """Run the reconciliation checks (all records, or the given ones) and print the outcome."""
    if record_ids:
        checks.require_known(record_ids)
    report = checks.run_checks(record_ids or None)
    click.echo(f"Rekaman diperiksa: {report.checked} ({report.seconds:.1f} detik).")
    click.echo(f"Menjadi terverifikasi: {report.verified}; menjadi perlu ditinjau: "
               f"{report.needs_review}.")
    click.echo(f"Kasus baru: {report.cases_opened}; kasus selesai sendiri: "
               f"{report.cases_cleared}.")


@click.command("verify-audit")
@with_appcontext
@user_errors
def verify_audit_command() -> None:
    """Recompute the audit chain's hashes; exit 1 listing the problems when it was tampered with."""
    report = audit.verify_chain()
    click.echo(f"Peristiwa audit diperiksa: {report.checked}.")
    if report.ok:
        click.echo("Rantai audit utuh.")
        return
    for problem in report.problems[:MAX_REFUSED_SHOWN]:
        click.echo(f"  {problem}", err=True)
    if len(report.problems) > MAX_REFUSED_SHOWN:
        click.echo(f"  ... dan {len(report.problems) - MAX_REFUSED_SHOWN} masalah lagi.", err=True)
    raise click.ClickException(
        f"Rantai audit RUSAK: {len(report.problems)} masalah. Log audit telah diubah, dihapus "
        "atau diacak di luar aplikasi."
    )


COMMANDS: list[click.Command] = [
    init_command,
    create_user_command,
    user_token_command,
    device_code_command,
    revoke_device_command,
    import_regions_command,
    import_population_command,
    clean_uploads_command,
    incomplete_command,
    run_checks_command,
    verify_audit_command,
]


@click.command("demo")
@click.option("--count", type=click.IntRange(1, 5000), default=40, show_default=True,
              help="Berapa penduduk direkam dalam demo.")
@click.option("--port", type=click.IntRange(0, 65535), default=5080, show_default=True,
              help="Port di 127.0.0.1 (port lain dipakai bila sibuk).")
@click.option("--scale", type=click.FloatRange(0.001, 1.0), default=1.0, show_default=True,
              help="Ukuran populasi sintetis (1 = 225.494 penduduk Sekadau; 0.1 untuk uji).")
@click.option("--serve/--no-serve", default=True, help="Tetap melayani sampai Ctrl-C.")
@click.pass_context
@user_errors
def demo_command(ctx: click.Context, count: int, port: int, scale: float, serve: bool) -> None:
    """Run the main job: server, field device, offline recording, sync, summary."""
    from field_client.errors import FieldClientError  # the demo pulls in the field client
    from server.demo import run_demo

    app = ctx.ensure_object(ScriptInfo).load_app()
    try:
        run_demo(app, count=count, port=port, scale=scale, serve=serve, echo=click.echo)
    except FieldClientError as exc:
        raise click.ClickException(exc.message) from exc


COMMANDS.append(demo_command)


def init_app(app: Flask) -> None:
    """Register the commands on ``app.cli`` (so ``flask --app server`` has them too)."""
    for command in (*COMMANDS, *cli_coverage.COMMANDS, *cli_outreach.COMMANDS,
                    *cli_blanko.COMMANDS, *cli_suket.COMMANDS, *cli_operators.COMMANDS):
        app.cli.add_command(command)


def _create_app() -> Flask:
    from server import create_app  # here, not at the top: server/__init__ imports this module

    return create_app()


def main() -> None:
    """Entry point of the ``jemput-server`` console script."""
    group = FlaskGroup(name="jemput-server", create_app=_create_app,
                       help="Server Jemput: kantor pusat perekaman e-KTP jemput bola.")
    group.main(prog_name="jemput-server")
