"""The cards lists at real size: keyset pages, filters in the query string, totals shown."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update

from server.cards import blanko, printing
from server.core.extensions import db
from server.core.models import Enrollment
from tests.support.office import login, token_for
from tests.support.suket import SUPERVISOR, add_stock

Push = Callable[..., Any]
Make = Callable[..., dict[str, Any]]
ROW = re.compile(r"<tr class=\"bl-(?:received|used|spoiled|returned)\">")
JOB_ROW = re.compile(r'<tr class="bl-job-(?:printed|spoiled)">')


def _approved(app: Flask, push: Push, make_record: Make, count: int) -> list[str]:
    records = [make_record(attachments=0, serial=n + 1) for n in range(count)]
    assert push(records).status_code == 200
    ids = [str(r["id"]) for r in records]
    with app.app_context():
        db.session.execute(update(Enrollment).where(Enrollment.id.in_(ids))
                           .values(state="approved"))
        db.session.commit()
    return ids


def test_the_ledger_pages_filters_and_totals(app: Flask, client: FlaskClient, push: Push,
                                             make_record: Make) -> None:
    add_stock(app, 200)
    ids = _approved(app, push, make_record, 60)
    with app.app_context():
        for record_id in ids:
            printing.print_card(record_id, actor=SUPERVISOR)
        blanko.spoil(3, "basah", actor=SUPERVISOR)
    login(client, app, "sari", "supervisor")
    page = client.get("/office/blanko").get_data(as_text=True)
    assert len(ROW.findall(page)) == 50
    assert "62 catatan: diterima 200, rusak 3, dipakai cetak 60; 50 per halaman" in page
    cursor = re.search(r'href="/office/blanko\?after=([^"&]+)#buku-stok"', page)
    assert cursor, "a link to the older entries"
    older = client.get(f"/office/blanko?after={cursor.group(1)}").get_data(as_text=True)
    assert len(ROW.findall(older)) == 12 and "Catatan sebelumnya" not in older
    used = client.get("/office/blanko?kind=used").get_data(as_text=True)
    assert "60 catatan: dipakai cetak 60" in used and len(ROW.findall(used)) == 50
    headers = token_for(app, "ani", "viewer")
    first = client.get("/api/v1/office/blanko/entries?kind=used&limit=40", headers=headers).json
    second = client.get(f"/api/v1/office/blanko/entries?kind=used&limit=40"
                        f"&after={first['next_after']}", headers=headers).json
    assert (first["total"], len(first["items"]), len(second["items"])) == (60, 40, 20)
    assert second["next_after"] is None
    assert {e["id"] for e in first["items"]}.isdisjoint(e["id"] for e in second["items"])


def test_the_print_page_stays_short_at_real_size(app: Flask, client: FlaskClient, push: Push,
                                                 make_record: Make) -> None:
    add_stock(app, 200)
    ids = _approved(app, push, make_record, 130)
    with app.app_context():
        for record_id in ids[:70]:
            printing.print_card(record_id, actor=SUPERVISOR)
    login(client, app, "sari", "supervisor")
    page = client.get("/office/print").get_data(as_text=True)
    assert page.count('action="/office/print/') <= 2 * 50 + 50  # queue rows + one form a job
    assert "60 rekaman cocok dengan saringan; 50 per halaman" in page
    assert len(JOB_ROW.findall(page)) == 50 and "70 cetakan" in page
    more = re.search(r'href="(/office/print\?after=[^"]+)"', page)
    assert more
    rest = client.get(more.group(1).replace("&amp;", "&")).get_data(as_text=True)
    assert rest.count('action="/office/print/') >= 10 and "Halaman berikutnya" not in rest
    older = re.search(r'href="(/office/print\?dicetak_setelah=[^"#]+)', page)
    assert older
    jobs = client.get(older.group(1).replace("&amp;", "&")).get_data(as_text=True)
    assert len(JOB_ROW.findall(jobs)) == 20
