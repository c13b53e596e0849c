"""``jemput-server`` commands for what devices sent: records waiting for files, old uploads."""

from __future__ import annotations

import datetime as dt

import click
from flask.cli import with_appcontext

from server.core.commands import echo_json, plain_errors
from server.core.timeutil import office_time
from server.sync import completeness
from server.sync.uploads import lifecycle
from shared.labels import role_label


@click.command("clean-uploads")
@with_appcontext
@plain_errors()
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
@plain_errors()
def incomplete_command(device_id: str | None, as_json: bool) -> None:
    """List, per device, records still waiting for files and which files they wait for."""
    devices_waiting = completeness.incomplete_records(device_id)
    if as_json:
        echo_json(devices_waiting)
        return
    if not devices_waiting:
        click.echo("Semua rekaman sudah lengkap berkasnya.")
        return
    for device in devices_waiting:
        click.echo(f"Perangkat {device['name']} ({device['device_id']}), tim {device['team']}: "
                   f"{len(device['records'])} rekaman belum lengkap")
        click.echo(f"  {'Rekaman':<36}  {'No. urut':>8}  {'Diterima':<20}  Berkas belum ada")
        for record in device["records"]:
            roles = ", ".join(f"{role_label(m['role'])} ({m['sha256'][:12]})"
                              for m in record["missing"])
            click.echo(f"  {record['id']:<36}  {record['seq']:>8}  "
                       f"{office_time(dt.datetime.fromisoformat(record['received_at'])):<20}  "
                       f"{roles}")


COMMANDS: list[click.Command] = [clean_uploads_command, incomplete_command]
