"""``jemput-server`` commands for the Surat Keterangan (Suket) (registered by server/cli.py)."""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from server.accounts.actor import Actor
from server.cli_errors import plain_errors
from server.http.present import jsonable
from server.services import suket, suket_pdf

#: Whoever may run the server's CLI is its administrator.
CLI_ACTOR = Actor("cli", "admin")


def _describe(info: suket.SuketInfo) -> str:
    return (f"Suket {info.id} {info.number}: {info.nama} (NIK {info.nik}), terbit "
            f"{info.issued_on.isoformat()}, berlaku s/d {info.expires_on.isoformat()}, "
            f"{suket.STATUS_LABELS[info.status]}")


@click.command("suket-issue")
@click.argument("record_id")
@click.option("--on-request", is_flag=True,
              help="Atas permintaan penduduk, walau blanko masih tersedia.")
@with_appcontext
def suket_issue_command(record_id: str, on_request: bool) -> None:
    """Issue a Suket for an approved record (only while no blank is in stock)."""
    with plain_errors():
        info = suket.issue(record_id, CLI_ACTOR, on_request=on_request)
    click.echo(_describe(info) + ".")
    click.echo(f"PDF: jemput-server suket-pdf {info.id} -o suket-{info.id}.pdf")


@click.command("suket-renew")
@click.argument("suket_id", type=int)
@with_appcontext
def suket_renew_command(suket_id: int) -> None:
    """Renew a Suket for six more months (only while no blank is in stock)."""
    with plain_errors():
        info = suket.renew(suket_id, CLI_ACTOR)
    click.echo(_describe(info) + f"; diperpanjang {info.renewals} kali.")


@click.command("suket-pdf")
@click.argument("suket_id", type=int)
@click.option("-o", "--output", "output", required=True, type=click.Path(dir_okay=False),
              help="Berkas PDF yang ditulis.")
@click.option("--base-url", help="Alamat publik server untuk kode QR (bawaan: "
              "JEMPUT_PUBLIC_URL).")
@with_appcontext
def suket_pdf_command(suket_id: int, output: str, base_url: str | None) -> None:
    """Write a Suket's A4 PDF (with its QR code) to a file."""
    base = base_url or current_app.config.get("JEMPUT_PUBLIC_URL")
    if not base:
        raise click.ClickException("Alamat publik tidak diketahui: atur JEMPUT_PUBLIC_URL "
                                   "atau beri --base-url https://...")
    if not base.startswith(("http://", "https://")):
        raise click.ClickException("--base-url harus diawali http:// atau https://.")
    with plain_errors():
        data = suket_pdf.render(suket_id, base,
                                signer=current_app.config.get("JEMPUT_SUKET_SIGNER"))
    Path(output).write_bytes(data)
    click.echo(f"{output}: {len(data):,} bita".replace(",", "."))


@click.command("suket-list")
@click.option("--state", "status", type=click.Choice(suket.STATUSES), default="waiting",
              show_default=True, help="waiting = harus kembali mengambil KTP-el.")
@click.option("--json", "as_json", is_flag=True, help="Cetak JSON.")
@with_appcontext
def suket_list_command(status: str, as_json: bool) -> None:
    """List Sukets: waiting for a card, valid, expiring, expired, superseded or all."""
    found = suket.listing(status, limit=100_000)
    if as_json:
        click.echo(json.dumps({"status": status, "counts": found.counts,
                               "items": jsonable(found.items)}, indent=1))
        return
    click.echo("  ".join(f"{name}: {count}" for name, count in found.counts.items()))
    for info in found.items:
        click.echo(f"{info.id:>6} {info.number:<26} {info.nama[:28]:<28} {info.nik} "
                   f"{info.issued_on.isoformat()} {info.expires_on.isoformat()} "
                   f"{suket.STATUS_LABELS[info.status]}")
    if not found.items:
        click.echo("Tidak ada Suket.")


COMMANDS: list[click.Command] = [suket_issue_command, suket_renew_command, suket_pdf_command,
                                 suket_list_command]
