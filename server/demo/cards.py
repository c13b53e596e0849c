"""The demo's card story: about 2,000 blanks, a longer queue, Sukets, a new allocation.

Records of earlier recording rounds wait for their card (residents SIAK already counts as
recorded, so the coverage figures do not move; in the demo they carry card data only, no
biometric files, to keep it fast). The office receives about 2,000 blanks, prints until the
stock is gone, issues a Suket to everyone still waiting, then a new allocation arrives and the
Suket holders' cards are printed: their Sukets become superseded.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from server.accounts import devices
from server.accounts.actor import Actor
from server.cards import blanko, printing, suket, suket_pdf
from server.core.errors import OutOfStock
from server.core.extensions import db
from server.core.models import Resident
from server.core.timeutil import isoformat_z, utcnow
from server.review import checks, decisions
from server.sync import ingest
from shared.canonical import with_hash
from shared.display import format_number

OFFICE = Actor("admin", "admin")
FIRST_ALLOCATION, WAITING_BEYOND_STOCK, SECOND_ALLOCATION = 2000, 150, 500
FIRST_LETTER, SECOND_LETTER = "470/2017/DUKCAPIL-KALBAR", "470/2018/DUKCAPIL-KALBAR"
KECAMATAN = ("61.09.01", "61.09.02", "61.09.03", "61.09.04", "61.09.05", "61.09.06", "61.09.07")
PUSH_BATCH = 500
Echo = Callable[[str], None]


@dataclass(frozen=True)
class CardStory:
    """What happened to the stock, the queue and the Sukets."""

    received: int
    waiting_before: int
    printed_first: int
    sukets: int
    received_again: int
    printed_second: int
    superseded: int
    suket_pdf: Path | None
    verify_path: str | None
    stock_left: int


def run(scale: float, folder: Path, base_url: str, echo: Echo) -> CardStory:
    """Play the card story (inside an app context); return what it did."""
    stock = max(1, round(FIRST_ALLOCATION * scale))
    earlier = _earlier_rounds(stock + max(1, round(WAITING_BEYOND_STOCK * scale)))
    for kecamatan in KECAMATAN:
        decisions.bulk_approve(actor=OFFICE, kecamatan_kode=kecamatan)
    waiting = printing.queue().total
    echo(f"Antrean cetak: {format_number(waiting)} rekaman disetujui ({format_number(earlier)} "
         "dari putaran perekaman sebelumnya) menunggu kartu.")
    blanko.receive(stock, FIRST_LETTER, actor=OFFICE)
    echo(f"Blanko diterima dari provinsi: {format_number(stock)} keping (surat {FIRST_LETTER}).")
    printed = _print_until_out()
    echo(f"Dicetak: {format_number(printed)} KTP-el; stok blanko habis "
         f"({format_number(blanko.available())}).")
    issued = [suket.issue(item.id, OFFICE) for item in _whole_queue()]
    echo(f"Surat Keterangan (Suket) diterbitkan untuk {format_number(len(issued))} penduduk yang "
         "masih menunggu blanko (berlaku 6 bulan, di seluruh Indonesia).")
    pdf, verify_path = None, None
    if issued:
        first = issued[-1]  # a resident of this demo's outreach when there is one: a real photo
        pdf = folder / "demo-suket.pdf"
        pdf.write_bytes(suket_pdf.render(first.id, base_url))
        verify_path = f"/verify/{suket.token_for(first.id, first.number)}"
        echo(f"  Contoh Suket {first.number}: {pdf} (QR -> {base_url}{verify_path})")
    forecast = blanko.forecast()
    echo(f"Prakiraan: minta {format_number(forecast.request)} blanko untuk antrean dan 30 hari "
         "ke depan (angka untuk surat ke provinsi).")
    again = max(1, round(SECOND_ALLOCATION * scale))
    blanko.receive(again, SECOND_LETTER, actor=OFFICE)
    second = _print_until_out()
    superseded = sum(1 for s in issued if suket.get(s.id).state == "superseded")
    echo(f"Alokasi baru: {format_number(again)} blanko (surat {SECOND_LETTER}); dicetak "
         f"{format_number(second)} KTP-el untuk pemegang Suket; {format_number(superseded)} "
         "Suket otomatis diganti KTP-el.")
    left = blanko.available()
    echo(f"Stok blanko sekarang: {format_number(left)}.")
    return CardStory(stock, waiting, printed, len(issued), again, second, superseded, pdf,
                     verify_path, left)


def _earlier_rounds(count: int) -> int:
    """Push ``count`` records of residents SIAK counts as recorded, from the office's laptop."""
    code = devices.create_registration_code("TIM REKAM KANTOR", ttl=dt.timedelta(hours=1))
    device, _ = devices.register_device(code, "Laptop kantor (putaran sebelumnya)")
    residents = db.session.execute(
        select(Resident).where(Resident.recorded.is_(True)).order_by(Resident.nik).limit(count)
    ).scalars().all()
    captured = isoformat_z(utcnow() - dt.timedelta(days=30)).split(".")[0] + "Z"
    records = [with_hash({
        "id": str(uuid.uuid4()), "seq": seq, "type": "enrollment", "captured_at": captured,
        "operator": "op.kantor", "attachments": [], "exceptions": [],
        "payload": {
            "nik": r.nik, "nama": r.nama, "tempat_lahir": r.tempat_lahir or "SEKADAU",
            "tanggal_lahir": r.tanggal_lahir.isoformat(), "jenis_kelamin": r.jenis_kelamin,
            "golongan_darah": r.golongan_darah or "TIDAK TAHU", "alamat": r.alamat or "-",
            "rt": r.rt or "001", "rw": r.rw or "001", "desa_kode": r.desa_kode,
            "agama": r.agama or "KATHOLIK", "status_perkawinan": r.status_perkawinan or "KAWIN",
            "pekerjaan": r.pekerjaan or "PETANI/PEKEBUN",
            "kewarganegaraan": r.kewarganegaraan or "WNI"},
    }) for seq, r in enumerate(residents, start=1)]
    db.session.commit()
    for start in range(0, len(records), PUSH_BATCH):
        ingest.push_plain(device.id, records[start:start + PUSH_BATCH])  # trusted, in clear
    checks.run_checks([r["id"] for r in records])
    return len(records)


def _whole_queue() -> list[printing.QueueItem]:
    """Every record waiting for a card, in queue order."""
    items: list[printing.QueueItem] = []
    after: str | None = None
    while True:
        result = printing.queue(after=after, limit=200)
        items += result.items
        if result.next_after is None:
            return items
        after = result.next_after


def _print_until_out() -> int:
    """Print down the queue (approved and Suket holders) until the blanks are gone."""
    printed = 0
    while blanko.available() > 0:
        page = printing.queue(limit=200)
        if not page.items:
            break
        for item in page.items:
            try:
                printing.print_card(item.id, actor=OFFICE)
            except OutOfStock:
                return printed
            printed += 1
    return printed
