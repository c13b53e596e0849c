"""Blanko and print pages: stock, forms, queue, print, spoil; refusals write nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.support.office import csrf_token, login
from tests.support.suket import approved_record, counts

Push = Callable[..., Any]


def test_stock_page_receive_print_spoil(app: Flask, client: FlaskClient, push: Push,
                                        make_record: Callable[..., Any]) -> None:
    record_id = approved_record(app, push, make_record)
    login(client, app, "sari", "supervisor")
    page = client.get("/office/blanko").get_data(as_text=True)
    assert "Catat penerimaan" in page and "Belum ada catatan stok" in page
    assert '<svg class="bl-chart"' in page and 'href="/office/blanko"' in page
    token = csrf_token(client, "/office/blanko")
    answer = client.post("/office/blanko/entries", follow_redirects=True, data={
        "csrf_token": token, "kind": "received", "quantity": "2000",
        "reference": "470/1234/DUKCAPIL"})
    text = answer.get_data(as_text=True)
    assert "2000 blanko diterima" in text and "Saldo sekarang 2000" in text
    assert "470/1234/DUKCAPIL" in text and "2.000" in text
    queue = client.get("/office/print?kecamatan=61.09.04").get_data(as_text=True)
    assert "MARIA GORETTI" in queue and f'/office/print/{record_id}"' in queue
    assert f"/office/suket?record={record_id}" in queue
    prio = client.post(f"/office/print/{record_id}/priority", follow_redirects=True,
                       data={"csrf_token": token, "reason": "lansia"})
    assert "diprioritaskan" in prio.get_data(as_text=True)
    printed = client.post(f"/office/print/{record_id}", follow_redirects=True,
                          data={"csrf_token": token, "kecamatan": "61.09.04"})
    text = printed.get_data(as_text=True)
    assert "KTP-el dicetak" in text and "Sisa blanko 1999" in text
    assert "Rusak, cetak ulang" in text
    job_id = counts(app)["print_job"]
    spoiled = client.post(f"/office/print/jobs/{job_id}/spoil", follow_redirects=True,
                          data={"csrf_token": token, "reason": "foto bergaris"})
    text = spoiled.get_data(as_text=True)
    assert "dicetak ulang" in text and "rusak: foto bergaris" in text
    summary = client.get("/office/blanko/summary").get_data(as_text=True)
    assert "Saldo akhir" in summary and "1.998" in summary
    csv = client.get("/office/blanko/summary?format=csv")
    assert csv.mimetype == "text/csv" and "1998" in csv.get_data(as_text=True)
    assert client.get("/office/blanko/summary?format=json").json["used"] == 2


@pytest.mark.parametrize("data, status, words", [
    ({"kind": "received", "quantity": "-5", "reference": "470/1"}, 400, "lebih dari 0"),
    ({"kind": "received", "quantity": "2,5", "reference": "470/1"}, 400, "bilangan bulat"),
    ({"kind": "received", "quantity": "", "reference": "470/1"}, 400, "bilangan bulat"),
    ({"kind": "received", "quantity": "10"}, 400, "wajib diisi"),
    ({"kind": "received", "quantity": "999999", "reference": "470/1"}, 400, "paling banyak"),
    ({"kind": "spoiled", "quantity": "1", "reason": "rusak"}, 409, "tidak cukup|hanya 0"),
    ({"kind": "lost", "quantity": "1"}, 400, "Pilih jenis"),
])
def test_bad_forms_write_nothing(app: Flask, client: FlaskClient, data: dict[str, str],
                                 status: int, words: str) -> None:
    login(client, app, "sari", "supervisor")
    token = csrf_token(client, "/office/blanko")
    before = counts(app)
    answer = client.post("/office/blanko/entries", data={"csrf_token": token, **data})
    assert answer.status_code == status
    body = answer.get_data(as_text=True)
    assert any(word in body for word in words.split("|")), body
    assert counts(app) == before


def test_print_refusals_on_the_page(app: Flask, client: FlaskClient, push: Push,
                                    make_record: Callable[..., Any]) -> None:
    record_id = approved_record(app, push, make_record)
    login(client, app, "sari", "supervisor")
    token = csrf_token(client, "/office/print")
    page = client.get("/office/print").get_data(as_text=True)
    assert "blanko habis" in page and "disabled" in page
    before = counts(app)
    answer = client.post(f"/office/print/{record_id}", data={"csrf_token": token})
    assert answer.status_code == 409 and "Stok blanko habis" in answer.get_data(as_text=True)
    assert client.post("/office/print/jobs/abc/spoil",
                       data={"csrf_token": token, "reason": "x"}).status_code == 404
    assert client.get("/office/print?age_min=tua").status_code == 400
    assert client.get("/office/blanko?days=0").status_code == 400
    assert client.get("/office/blanko/summary?date=besok").status_code == 400
    assert client.post(f"/office/print/{record_id}").status_code == 400  # no CSRF token
    assert counts(app) == before


def test_viewer_reads_but_cannot_act(app: Flask, client: FlaskClient, push: Push,
                                     make_record: Callable[..., Any]) -> None:
    record_id = approved_record(app, push, make_record)
    login(client, app, "vina", "viewer")
    stock = client.get("/office/blanko").get_data(as_text=True)
    assert "Buku stok" in stock and "Catat penerimaan" not in stock
    queue = client.get("/office/print").get_data(as_text=True)
    assert "MARIA GORETTI" in queue and "prioritaskan" not in queue
    token = csrf_token(client, "/office/blanko")
    before = counts(app)
    for path, data in ((f"/office/print/{record_id}", {}),
                       ("/office/blanko/entries",
                        {"kind": "received", "quantity": "5", "reference": "470/1"}),
                       (f"/office/print/{record_id}/priority", {"reason": "lansia"})):
        answer = client.post(path, data={"csrf_token": token, **data})
        assert answer.status_code == 403, path
    assert counts(app) == before
