"""``jemput-server`` commands for cards: blank-card stock, printing and the Suket."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from server.accounts.actor import CLI_ACTOR
from server.cards import blanko, printing, suket, suket_pdf
from server.core import anchors, paging
from server.core.commands import echo_json, plain_errors
from server.core.serialize import jsonable
from server.core.timeutil import office_today
from shared.labels import SUKET_STATUS_LABELS, state_label

SUMMARY_ROWS = (("Saldo awal", "opening"), ("Diterima", "received"),
                ("Dipakai cetak", "used"), ("  di antaranya salah cetak", "misprinted"),
                ("Rusak", "spoiled"), ("Dikembalikan", "returned"), ("Saldo akhir", "closing"),
                ("Antrean cetak", "queue"), ("Suket berlaku", "valid_sukets"))


def _date(text: str | None) -> dt.date | None:
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"'{text}' bukan tanggal TTTT-BB-HH.") from None


@click.command("blanko-receive")
@click.option("--quantity", type=int, required=True, help="Jumlah blanko yang diterima.")
@click.option("--reference", required=True, help="Nomor surat alokasi, mis. 470/1234/DUKCAPIL.")
@click.option("--date", "entry_date", help="Tanggal terima TTTT-BB-HH (bawaan: hari ini, WIB).")
@with_appcontext
def blanko_receive_command(quantity: int, reference: str, entry_date: str | None) -> None:
    """Book blank cards received from the province."""
    with plain_errors():
        entry = blanko.receive(quantity, reference, _date(entry_date), actor=CLI_ACTOR)
        stock = blanko.available()
    click.echo(f"Diterima {entry.quantity} blanko ({entry.reference}, "
               f"{entry.entry_date.isoformat()}). Saldo: {stock}.")


@click.command("blanko-spoil")
@click.option("--quantity", type=int, required=True, help="Jumlah blanko rusak.")
@click.option("--reason", required=True, help="Alasan (mis. tergores, tertekuk).")
@with_appcontext
def blanko_spoil_command(quantity: int, reason: str) -> None:
    """Book blank cards damaged outside a print (a misprint: print-reprint)."""
    with plain_errors():
        entry = blanko.spoil(quantity, reason, actor=CLI_ACTOR)
        stock = blanko.available()
    click.echo(f"Dicatat rusak {entry.quantity} blanko ({entry.reason}). Saldo: {stock}.")


@click.command("blanko-return")
@click.option("--quantity", type=int, required=True, help="Jumlah blanko dikembalikan.")
@click.option("--reason", required=True, help="Alasan / tujuan pengembalian.")
@click.option("--reference", help="Nomor surat pengembalian.")
@with_appcontext
def blanko_return_command(quantity: int, reason: str, reference: str | None) -> None:
    """Book blank cards sent back (to the province or another regency)."""
    with plain_errors():
        entry = blanko.return_(quantity, reference, reason, actor=CLI_ACTOR)
        stock = blanko.available()
    click.echo(f"Dikembalikan {entry.quantity} blanko ({entry.reason}). Saldo: {stock}.")


@click.command("blanko-stock")
@click.option("--days", type=int, default=30, show_default=True,
              help="Hari persetujuan yang diperkirakan dalam angka permintaan.")
@click.option("--json", "as_json", is_flag=True, help="Cetak JSON.")
@with_appcontext
def blanko_stock_command(days: int, as_json: bool) -> None:
    """Stock, the 14-day rate, when it runs out, and how many blanks to request."""
    with plain_errors():
        result = blanko.forecast(days)
    if as_json:
        echo_json(result)
        return
    click.echo(f"Saldo blanko: {result.balance}")
    click.echo(f"Pemakaian {result.window_days} hari terakhir: {result.out_per_day} per hari")
    if result.runs_out_on is None:
        click.echo("Habis pada: - (tidak ada pemakaian)")
    else:
        click.echo(f"Habis dalam {result.days_left} hari, sekitar {result.runs_out_on}")
    click.echo(f"Antrean cetak: {result.queue}; persetujuan {result.approvals_per_day}/hari")
    click.echo(f"Permintaan ke provinsi (antrean + {result.n_days} hari): {result.request}")


@click.command("blanko-summary")
@click.option("--date", "day", help="Tanggal TTTT-BB-HH (bawaan: hari ini, WIB).")
@click.option("--json", "as_json", is_flag=True, help="Cetak JSON.")
@with_appcontext
def blanko_summary_command(day: str | None, as_json: bool) -> None:
    """The daily stock summary: opening, movements, closing, queue, valid Sukets; for today, also
    a new signed anchor of the audit chain, printed for the paper file."""
    with plain_errors():
        summary = blanko.daily_summary(_date(day))
        anchor = anchors.make() if summary.day == office_today() else None
    if as_json:
        echo_json({**jsonable(summary), "audit_anchor": anchor})
        return
    click.echo(f"Ringkasan stok blanko KTP-el {summary.day.isoformat()}")
    for label, name in SUMMARY_ROWS:
        click.echo(f"{label:<28} {getattr(summary, name):>8}")
    if anchor:
        click.echo(f"Jangkar audit: peristiwa {anchor.short} ({anchor.name}, kunci "
                   f"{anchor.kid}); simpan bersama ringkasan ini.")


@click.command("print-card")
@click.argument("record_id")
@with_appcontext
def print_card_command(record_id: str) -> None:
    """Print the card of an approved (or Suket-holding) record: takes one blank."""
    with plain_errors():
        job = printing.print_card(record_id, actor=CLI_ACTOR)
        stock = blanko.available()
    click.echo(f"Dicetak: rekaman {job.enrollment_id}, cetakan {job.id}. Sisa blanko: {stock}.")


@click.command("print-queue")
@click.option("--kecamatan", help="Kode kecamatan, mis. 61.09.04.")
@click.option("--limit", type=click.IntRange(1, 200), default=20, show_default=True)
@with_appcontext
def print_queue_command(kecamatan: str | None, limit: int) -> None:
    """The print queue: priority first, then the oldest approval."""
    with plain_errors():
        page = printing.queue(printing.Filters(kecamatan=kecamatan), limit=limit)
    click.echo(f"Antrean cetak: {page.total} rekaman ({page.priority} prioritas, "
               f"{page.suket_issued} pemegang Suket)")
    for item in page.items:
        flag = f"  [prioritas: {item.priority}]" if item.priority else ""
        click.echo(f"{item.id}  {item.nik}  {item.nama[:28]:<28} {item.desa_nama[:18]:<18} "
                   f"{state_label(item.state)}{flag}")


def _describe(info: suket.SuketInfo) -> str:
    return (f"Suket {info.id} {info.number}: {info.nama} (NIK {info.nik}), terbit "
            f"{info.issued_on.isoformat()}, berlaku s/d {info.expires_on.isoformat()}, "
            f"{SUKET_STATUS_LABELS[info.status]}")


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
    found = suket.listing(status, limit=paging.MAX_LIMIT)
    items = list(found.items)
    while found.next_after:  # the command lists all of them, page by page
        found = suket.listing(status, after=found.next_after, limit=paging.MAX_LIMIT)
        items += found.items
    if as_json:
        echo_json({"status": status, "counts": found.counts, "items": items})
        return
    click.echo("  ".join(f"{name}: {count}" for name, count in found.counts.items()))
    for info in items:
        click.echo(f"{info.id:>6} {info.number:<26} {info.nama[:28]:<28} {info.nik} "
                   f"{info.issued_on.isoformat()} {info.expires_on.isoformat()} "
                   f"{SUKET_STATUS_LABELS[info.status]}")
    if not items:
        click.echo("Tidak ada Suket.")


COMMANDS: list[click.Command] = [
    blanko_receive_command,
    blanko_spoil_command,
    blanko_return_command,
    blanko_stock_command,
    blanko_summary_command,
    print_card_command,
    print_queue_command,
    suket_issue_command,
    suket_renew_command,
    suket_pdf_command,
    suket_list_command,
]
