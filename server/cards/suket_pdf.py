"""The Suket as an A4 PDF (fpdf2): the card's data and photo, dates, signature block, QR code.

The QR code (segno) holds ``<base_url>/verify/<token>``; the same URL is printed under it and
carried as a link annotation, so a PDF reader can follow it too. Text uses the PDF core fonts
(Latin-1): any other character is replaced by ``?`` rather than failing the document.
"""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

from sqlalchemy import select

from server.cards import suket as suket_service
from server.core.blobstore import blob_store
from server.core.extensions import db
from server.core.models import Attachment, Enrollment, Region

MONTHS = ("Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus",
          "September", "Oktober", "November", "Desember")
#: The card's fields in the card's order, with the label printed beside each.
CARD_FIELDS = (
    ("nik", "NIK"), ("nama", "Nama"), ("tempat_tanggal_lahir", "Tempat/Tgl Lahir"),
    ("jenis_kelamin", "Jenis Kelamin"), ("golongan_darah", "Gol. Darah"),
    ("alamat", "Alamat"), ("rt_rw", "RT/RW"), ("desa", "Kel/Desa"),
    ("kecamatan", "Kecamatan"), ("kabupaten", "Kabupaten"), ("agama", "Agama"),
    ("status_perkawinan", "Status Perkawinan"), ("pekerjaan", "Pekerjaan"),
    ("kewarganegaraan", "Kewarganegaraan"),
)
PHOTO_W, PHOTO_H = 30.0, 40.0  # mm, the 3x4 pass photo
QR_SIZE = 38.0  # mm
MAX_PHOTO_PIXELS = 40_000_000


def long_date(day: dt.date) -> str:
    """``2026-03-05`` as ``5 Maret 2026``."""
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"


def render(suket_id: int, base_url: str, *, signer: str | None = None) -> bytes:
    """The PDF of Suket ``suket_id`` (404 when unknown) with its QR pointing at ``base_url``."""
    info = suket_service.get(suket_id)
    record = db.session.get(Enrollment, info.enrollment_id)
    assert record is not None  # the Suket's foreign key
    payload = dict(record.payload)
    names = _region_names(record.desa_kode)
    photo = _photo(record.id)
    db.session.commit()
    url = f"{base_url.rstrip('/')}/verify/{suket_service.token_for(info.id, info.number)}"
    values = _card_values(payload, record.nik, names)
    return _document(info, values, photo, url, signer or "....................................")


def _region_names(desa_kode: str) -> dict[str, str]:
    codes = {"desa": desa_kode, "kecamatan": desa_kode[:8], "kabupaten": desa_kode[:5]}
    found = dict(db.session.execute(
        select(Region.kode, Region.nama).where(Region.kode.in_(codes.values()))).all())
    return {level: found.get(code, code) for level, code in codes.items()}


def _card_values(payload: dict[str, Any], nik: str, names: dict[str, str]) -> dict[str, str]:
    def text(name: str) -> str:
        value = payload.get(name)
        return "-" if value in (None, "") else str(value)

    born = payload.get("tanggal_lahir")
    try:
        born_text = dt.date.fromisoformat(str(born)).strftime("%d-%m-%Y")
    except ValueError:
        born_text = text("tanggal_lahir")
    return {
        "nik": nik, "nama": text("nama"),
        "tempat_tanggal_lahir": f"{text('tempat_lahir')}, {born_text}",
        "jenis_kelamin": text("jenis_kelamin"), "golongan_darah": text("golongan_darah"),
        "alamat": text("alamat"), "rt_rw": f"{text('rt')}/{text('rw')}",
        "desa": names["desa"], "kecamatan": names["kecamatan"],
        "kabupaten": names["kabupaten"], "agama": text("agama"),
        "status_perkawinan": text("status_perkawinan"), "pekerjaan": text("pekerjaan"),
        "kewarganegaraan": text("kewarganegaraan"),
    }


def _photo(record_id: str) -> bytes | None:
    """The record's photo as PNG bytes, or None when missing or not a readable image."""
    attachment = db.session.execute(
        select(Attachment).where(Attachment.enrollment_id == record_id,
                                 Attachment.role == "photo")).scalar()
    if attachment is None:
        return None
    from PIL import Image, UnidentifiedImageError  # only when a Suket is drawn

    try:
        with blob_store().open_blob(attachment.sha256) as stream:
            data = stream.read()
        with Image.open(io.BytesIO(data)) as image:
            if image.format not in ("PNG", "JPEG") or image.width * image.height > MAX_PHOTO_PIXELS:
                return None
            image.load()
            out = io.BytesIO()
            image.convert("RGB").save(out, format="PNG")
            return out.getvalue()
    except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError):
        return None


def _latin1(text: str) -> str:
    return text.encode("latin-1", "replace").decode("latin-1")


def _document(info: suket_service.SuketInfo, values: dict[str, str], photo: bytes | None,
              url: str, signer: str) -> bytes:
    # Imported here, not at the top: fpdf (and segno) take ~0.4 s to import, which every
    # server process and every `jemput-server` command paid at start-up for a PDF it rarely
    # draws.
    import segno
    from fpdf import FPDF

    pdf = FPDF(format="A4", unit="mm")
    pdf.set_title(_latin1(f"Surat Keterangan {info.number}"))
    pdf.set_creator("Jemput")
    pdf.set_auto_page_break(auto=False)
    pdf.set_margins(20, 15, 20)
    pdf.add_page()
    width = pdf.w - pdf.l_margin - pdf.r_margin
    # Header (kop surat).
    pdf.set_font("Helvetica", "B", 13)
    pdf.cell(width, 6, "PEMERINTAH KABUPATEN SEKADAU", align="C", new_x="LMARGIN",
             new_y="NEXT")
    pdf.set_font("Helvetica", "B", 14)
    pdf.cell(width, 7, "DINAS KEPENDUDUKAN DAN PENCATATAN SIPIL", align="C", new_x="LMARGIN",
             new_y="NEXT")
    pdf.set_font("Helvetica", "", 9)
    pdf.cell(width, 5, "Sekadau, Kalimantan Barat", align="C", new_x="LMARGIN", new_y="NEXT")
    y = pdf.get_y() + 1.5
    pdf.set_line_width(0.8)
    pdf.line(pdf.l_margin, y, pdf.w - pdf.r_margin, y)
    pdf.set_line_width(0.2)
    pdf.line(pdf.l_margin, y + 1.2, pdf.w - pdf.r_margin, y + 1.2)
    pdf.set_y(y + 6)
    # Title and number.
    pdf.set_font("Helvetica", "BU", 13)
    pdf.cell(width, 7, "SURAT KETERANGAN PENGGANTI KTP-EL", align="C", new_x="LMARGIN",
             new_y="NEXT")
    pdf.set_font("Helvetica", "", 10)
    pdf.cell(width, 6, _latin1(f"Nomor: {info.number}"), align="C", new_x="LMARGIN",
             new_y="NEXT")
    pdf.ln(4)
    pdf.multi_cell(width, 5, (
        "Yang bertanda tangan di bawah ini, Kepala Dinas Kependudukan dan Pencatatan Sipil "
        "Kabupaten Sekadau, menerangkan bahwa penduduk dengan data berikut telah melakukan "
        "perekaman KTP elektronik dan datanya telah diverifikasi, namun KTP-el belum dapat "
        "dicetak karena ketersediaan blanko:"), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    top = pdf.get_y()
    # Card data on the left, the photo on the right.
    label_w, value_w = 42.0, width - 42.0 - PHOTO_W - 8
    for name, label in CARD_FIELDS:
        pdf.set_font("Helvetica", "", 10)
        pdf.cell(label_w, 6, label)
        pdf.set_font("Helvetica", "B" if name in ("nik", "nama") else "", 10)
        pdf.multi_cell(value_w, 6, _latin1(f": {values[name]}"), new_x="LMARGIN",
                       new_y="NEXT")
    bottom = pdf.get_y()
    photo_x = pdf.w - pdf.r_margin - PHOTO_W
    if photo is not None:
        pdf.image(io.BytesIO(photo), x=photo_x, y=top, w=PHOTO_W, h=PHOTO_H, keep_aspect_ratio=True)
    pdf.rect(photo_x, top, PHOTO_W, PHOTO_H)
    if photo is None:
        pdf.set_font("Helvetica", "I", 8)
        pdf.set_xy(photo_x, top + PHOTO_H / 2 - 4)
        pdf.multi_cell(PHOTO_W, 4, "foto tidak\ntersedia", align="C")
    pdf.set_xy(pdf.l_margin, max(bottom, top + PHOTO_H) + 4)
    # Validity.
    pdf.set_font("Helvetica", "", 10)
    pdf.multi_cell(width, 5, (
        "Surat keterangan ini berlaku sebagai pengganti KTP-el dan berlaku di seluruh "
        f"Indonesia sejak {long_date(info.issued_on)} sampai dengan {long_date(info.expires_on)}"
        ", atau sampai KTP-el yang bersangkutan dicetak, mana yang lebih dahulu. Keabsahan "
        "surat ini dapat diperiksa dengan memindai kode QR di bawah."), new_x="LMARGIN",
        new_y="NEXT")
    if info.renewals:
        pdf.set_font("Helvetica", "I", 9)
        pdf.cell(width, 5, f"Diperpanjang {info.renewals} kali.", new_x="LMARGIN",
                 new_y="NEXT")
    pdf.ln(6)
    block_top = pdf.get_y()
    # QR code bottom left, the URL under it (and a link over both).
    qr = segno.make(url, error="m")
    qr_png = io.BytesIO()
    qr.save(qr_png, kind="png", scale=8, border=2)
    qr_png.seek(0)
    pdf.image(qr_png, x=pdf.l_margin, y=block_top, w=QR_SIZE, h=QR_SIZE, link=url)
    pdf.set_font("Helvetica", "", 7)
    pdf.set_xy(pdf.l_margin, block_top + QR_SIZE + 1)
    pdf.multi_cell(85, 3.5, _latin1(url), link=url, new_x="LMARGIN", new_y="NEXT")
    pdf.link(pdf.l_margin, block_top, QR_SIZE, QR_SIZE, url)
    # Signature block on the right.
    sign_x = pdf.w - pdf.r_margin - 75
    pdf.set_font("Helvetica", "", 10)
    pdf.set_xy(sign_x, block_top)
    pdf.multi_cell(75, 5, (f"Sekadau, {long_date(info.issued_on)}\n"
                           "Kepala Dinas Kependudukan\ndan Pencatatan Sipil\n"
                           "Kabupaten Sekadau"), align="C")
    pdf.set_xy(sign_x, block_top + 45)
    pdf.set_font("Helvetica", "BU", 10)
    pdf.cell(75, 5, _latin1(signer), align="C")
    return bytes(pdf.output())
