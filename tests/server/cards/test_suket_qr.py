"""Done when: a Suket PDF's QR code, read back from the PDF, checks out on /verify."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from flask import Flask
from flask.testing import FlaskClient

from server.cards import blanko, printing, suket, suket_pdf
from tests.support.server_app import assert_problem
from tests.support.suket import (
    SUPERVISOR,
    approved_record,
    attach_photo,
    pdf_links,
    pdf_text,
    photo_png,
    qr_urls,
)

JSON = {"Accept": "application/json"}


def test_pdf_qr_reads_back_and_verifies(app: Flask, client: FlaskClient,
                                        push: Callable[..., Any],
                                        make_record: Callable[..., Any]) -> None:
    record_id = approved_record(app, push, make_record)
    attach_photo(app, record_id, photo_png())
    with app.app_context():
        issued = suket.issue(record_id, SUPERVISOR)
        pdf = suket_pdf.render(issued.id, "https://jemput.sekadaukab.go.id")
    assert pdf.startswith(b"%PDF")
    [url] = qr_urls(pdf)
    assert url.startswith("https://jemput.sekadaukab.go.id/verify/")
    assert url in pdf_links(pdf)
    text = pdf_text(pdf)
    for words in ("SURAT KETERANGAN PENGGANTI KTP-EL", issued.number, "MARIA GORETTI",
                  "berlaku di seluruh", "Kepala Dinas", "TEMBAGA".title(), "Nanga Mahap",
                  urlsplit(url).path.split("/")[-1][:10]):
        assert words.lower() in text.lower(), words
    path = urlsplit(url).path

    valid = client.get(path, headers=JSON)
    assert valid.status_code == 200
    assert valid.json["status"] == "valid"
    assert valid.json["number"] == issued.number
    assert valid.json["nama"] == "MAR** GOR****"
    assert set(valid.json) == {"status", "number", "nama", "nik_last4", "issued_on",
                               "expires_on", "superseded_on"}
    assert valid.headers["Cache-Control"] == "no-store"
    assert "noindex" in valid.headers["X-Robots-Tag"]
    page = client.get(path)
    assert page.status_code == 200 and "BERLAKU" in page.get_data(as_text=True)

    # A blank arrives and the card is printed: the Suket is superseded in that transaction.
    with app.app_context():
        blanko.receive(1, "470/1/DUKCAPIL", actor=SUPERVISOR)
        printing.print_card(record_id, actor=SUPERVISOR)
    gone = client.get(path, headers=JSON)
    assert gone.json["status"] == "superseded"
    assert gone.json["superseded_on"] == suket.office_today().isoformat()
    assert "DIGANTI KTP-EL" in client.get(path).get_data(as_text=True)

    # One character changed: unknown, as a 404 without a reason.
    token = path.rsplit("/", 1)[1]
    altered = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert_problem(client.get(f"/verify/{altered}", headers=JSON), 404, "not_found")
    html = client.get(f"/verify/{altered}")
    assert html.status_code == 404 and "tidak dikenal" in html.get_data(as_text=True)
    assert html.headers["Cache-Control"] == "no-store"


def test_expired_suket(app: Flask, client: FlaskClient, push: Callable[..., Any],
                       make_record: Callable[..., Any]) -> None:
    record_id = approved_record(app, push, make_record)
    with app.app_context():
        issued = suket.issue(record_id, SUPERVISOR, today=dt.date(2025, 1, 10))
        assert issued.expires_on == dt.date(2025, 7, 10)
        [url] = qr_urls(suket_pdf.render(issued.id, "http://localhost"))
    answer = client.get(urlsplit(url).path, headers=JSON)
    assert answer.json["status"] == "expired"
    assert answer.json["expires_on"] == "2025-07-10"
    assert "KEDALUWARSA" in client.get(urlsplit(url).path).get_data(as_text=True)


def test_pdf_without_photo_says_so(app: Flask, push: Callable[..., Any],
                                   make_record: Callable[..., Any]) -> None:
    record_id = approved_record(app, push, make_record)
    attach_photo(app, record_id, b"not an image at all", media_type="image/jpeg")
    with app.app_context():
        issued = suket.issue(record_id, SUPERVISOR)
        pdf = suket_pdf.render(issued.id, "http://localhost")
    assert "foto tidak" in pdf_text(pdf)
    assert len(qr_urls(pdf)) == 1
