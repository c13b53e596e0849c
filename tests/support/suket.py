"""Helpers of the Suket tests: approved records, Sukets put in place directly, row counts."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import uuid
from collections.abc import Callable
from typing import Any

import zxingcpp
from flask import Flask
from PIL import Image
from pypdf import PdfReader
from sqlalchemy import func, select

from server.accounts.actor import Actor
from server.core.blobstore import blob_store
from server.core.extensions import db
from server.core.models import (
    Attachment,
    AuditEvent,
    BlankoEntry,
    Change,
    Enrollment,
    PrintJob,
    Suket,
)
from server.core.timeutil import utcnow
from server.review import decisions
from tests.support.records import add_residents

SUPERVISOR = Actor("sari", "supervisor")


def approved_record(app: Flask, push: Callable[..., Any],
                    make_record: Callable[..., dict[str, Any]], *, action: str = "approve",
                    **options: Any) -> str:
    """Push one record (no files, registry match) and approve it (or ``action``); its id."""
    record = make_record(attachments=0, **options)
    add_residents(app, record)
    answer = push([record])
    assert answer.status_code == 200, answer.json
    with app.app_context():
        decisions.decide_record(record["id"], actor=SUPERVISOR, action=action,
                             reason=None if action == "approve" else "foto buram")
    return str(record["id"])


def add_stock(app: Flask, quantity: int) -> None:
    """Blanks received (a ledger entry straight in: the stock service is helper D's)."""
    with app.app_context():
        db.session.add(BlankoEntry(kind="received", quantity=quantity,
                                   entry_date=dt.date(2026, 1, 5), reference="470/1/DUKCAPIL",
                                   actor="user:sari", created_at=utcnow()))
        db.session.commit()


def fake_print_job(app: Flask, record_id: str) -> int:
    """A print job row for ``record_id`` (what helper D's print_card writes), uncommitted id."""
    job = PrintJob(enrollment_id=record_id, state="printed", printed_at=utcnow(),
                   actor="user:sari")
    db.session.add(job)
    db.session.flush()
    return int(job.id)


def counts(app: Flask) -> dict[str, Any]:
    """Sukets (with states), records' states, ledger, print jobs, feed and audit lengths."""
    with app.app_context():
        result: dict[str, Any] = {
            model.__tablename__: db.session.execute(
                select(func.count()).select_from(model)).scalar_one()
            for model in (Suket, BlankoEntry, PrintJob, Change, AuditEvent)
        }
        result["suket_states"] = sorted(db.session.execute(
            select(Suket.id, Suket.state, Suket.expires_on, Suket.renewals)).all())
        result["records"] = dict(db.session.execute(
            select(Enrollment.id, Enrollment.state)).all())
        db.session.commit()
        return result


def day(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def photo_png(size: tuple[int, int] = (300, 400)) -> bytes:
    """A small PNG 'photo'."""
    image = Image.new("RGB", size, (180, 140, 110))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def attach_photo(app: Flask, record_id: str, data: bytes,
                 media_type: str = "image/png") -> None:
    """Store ``data`` as the record's photo blob (through the blob store) and its row."""
    digest = hashlib.sha256(data).hexdigest()
    with app.app_context():
        store = blob_store()
        upload_id = uuid.uuid4().hex
        with store.partial(upload_id) as partial:
            partial.append(data)
            partial.sync()
            store.promote(upload_id, digest)
        db.session.merge(Attachment(enrollment_id=record_id, role="photo", sha256=digest,
                                    size=len(data), media_type=media_type))
        db.session.commit()


def qr_urls(pdf: bytes) -> list[str]:
    """Every QR code among the PDF's images, decoded (pypdf extracts, zxing-cpp reads)."""
    found: list[str] = []
    for page in PdfReader(io.BytesIO(pdf)).pages:
        for picture in page.images:
            with Image.open(io.BytesIO(picture.data)) as image:
                found += [code.text for code in zxingcpp.read_barcodes(image.convert("L"))
                          if code.format == zxingcpp.BarcodeFormat.QRCode]
    return found


def pdf_text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def pdf_links(pdf: bytes) -> list[str]:
    """The URIs of the PDF's link annotations."""
    links: list[str] = []
    for page in PdfReader(io.BytesIO(pdf)).pages:
        for annotation in page.get("/Annots") or []:
            action = annotation.get_object().get("/A")
            if action is not None and "/URI" in action:
                links.append(str(action["/URI"]))
    return links


def make_due(app: Flask, suket_id: int, days_left: int = 10) -> None:
    """Let Suket ``suket_id`` run out in ``days_left`` days, so it may be renewed."""
    from server.core.models import Suket
    from server.core.timeutil import office_today

    with app.app_context():
        stored = db.session.get(Suket, suket_id)
        assert stored is not None
        stored.expires_on = office_today() + dt.timedelta(days=days_left)
        db.session.commit()
