"""Printing: one card takes one blank with the record's move; misprints, priority, the queue."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from server.accounts.actor import Actor
from server.cards import blanko, printing
from server.core.errors import (
    AlreadySpoiled,
    Forbidden,
    InvalidInput,
    NotFound,
    NotPrintable,
    OutOfStock,
)
from server.core.extensions import db
from server.core.models import AuditEvent, BlankoEntry, Change, Enrollment, PrintJob, Suket
from server.core.timeutil import utcnow
from tests.support.suket import SUPERVISOR, add_stock, approved_record, counts

Push = Callable[..., Any]
Make = Callable[..., Any]


def _suket(record_id: str) -> None:
    db.session.add(Suket(number="470/00001/SKT-DKPS/2026", enrollment_id=record_id,
                         state="valid", issued_on=dt.date(2026, 11, 2),
                         expires_on=dt.date(2027, 5, 2), renewals=0, issued_by="user:sari",
                         created_at=utcnow()))
    enrollment = db.session.get(Enrollment, record_id)
    assert enrollment is not None
    enrollment.state = "suket_issued"
    db.session.commit()


def test_print_takes_one_blank_with_the_move(app: Flask, push: Push, make_record: Make) -> None:
    record_id = approved_record(app, push, make_record)
    add_stock(app, 2)
    with app.app_context():
        _suket(record_id)
        job = printing.print_card(record_id, actor=SUPERVISOR)
        assert (job.state, job.actor, job.reprint_of) == ("printed", "user:sari", None)
        assert blanko.available() == 1
        entry = db.session.execute(
            select(BlankoEntry).where(BlankoEntry.kind == "used")).scalar_one()
        assert (entry.quantity, entry.print_job_id) == (1, job.id)
        record = db.session.get(Enrollment, record_id)
        assert record is not None and record.state == "printed"
        change = db.session.execute(select(Change).where(Change.record_id == record_id)
                                    .order_by(Change.id.desc())).scalars().first()
        assert change is not None and change.state == "printed"
        actions = list(db.session.execute(select(AuditEvent.action)
                                          .where(AuditEvent.record_id == record_id)).scalars())
        assert "print" in actions and "suket_superseded" in actions
        sk = db.session.execute(select(Suket)).scalar_one()
        assert (sk.state, sk.print_job_id) == ("superseded", job.id)
        db.session.commit()


def test_zero_stock_is_refused_and_writes_nothing(app: Flask, push: Push,
                                                  make_record: Make) -> None:
    record_id = approved_record(app, push, make_record)
    before = counts(app)
    with app.app_context(), pytest.raises(OutOfStock, match="habis") as raised:
        printing.print_card(record_id, actor=SUPERVISOR)
    assert (raised.value.status, raised.value.code) == (409, "out_of_stock")
    assert counts(app) == before


def test_stock_used_up_by_spoils_is_out_of_stock(app: Flask, push: Push,
                                                 make_record: Make) -> None:
    record_id = approved_record(app, push, make_record)
    with app.app_context():
        blanko.receive(1, "470/1/DUKCAPIL", actor=SUPERVISOR)
        blanko.spoil(1, "tergores", actor=SUPERVISOR)
    before = counts(app)
    with app.app_context(), pytest.raises(OutOfStock):
        printing.print_card(record_id, actor=SUPERVISOR)
    assert counts(app) == before


@pytest.mark.parametrize("action, word", [("reject", "ditolak"), ("needs_fix", "perbaikan")])
def test_a_record_not_approved_is_not_printable(app: Flask, push: Push, make_record: Make,
                                                action: str, word: str) -> None:
    record_id = approved_record(app, push, make_record, action=action)
    add_stock(app, 5)
    before = counts(app)
    with app.app_context(), pytest.raises(NotPrintable, match=word) as raised:
        printing.print_card(record_id, actor=SUPERVISOR)
    assert (raised.value.status, raised.value.code) == (409, "not_printable")
    assert counts(app) == before


def test_already_printed_says_so_and_writes_nothing(app: Flask, push: Push,
                                                    make_record: Make) -> None:
    record_id = approved_record(app, push, make_record)
    add_stock(app, 5)
    with app.app_context():
        printing.print_card(record_id, actor=SUPERVISOR)
    before = counts(app)
    with app.app_context(), pytest.raises(NotPrintable, match="sudah dicetak pada"):
        printing.print_card(record_id, actor=SUPERVISOR)
    assert counts(app) == before


def test_unknown_record_and_viewer(app: Flask, push: Push, make_record: Make) -> None:
    record_id = approved_record(app, push, make_record)
    add_stock(app, 5)
    before = counts(app)
    with app.app_context():
        with pytest.raises(NotFound):
            printing.print_card("00000000-0000-0000-0000-000000000000", actor=SUPERVISOR)
        for role in ("viewer", "reviewer"):
            with pytest.raises(Forbidden):
                printing.print_card(record_id, actor=Actor("budi", role))
    assert counts(app) == before


def test_spoil_and_reprint_counts_each_card_once(app: Flask, push: Push,
                                                 make_record: Make) -> None:
    record_id = approved_record(app, push, make_record)
    add_stock(app, 3)
    with app.app_context():
        first = printing.print_card(record_id, actor=SUPERVISOR)
        second = printing.spoil_and_reprint(first.id, "foto bergaris", actor=SUPERVISOR)
        assert second.reprint_of == first.id and second.state == "printed"
        old = db.session.get(PrintJob, first.id)
        assert old is not None and (old.state, old.spoil_reason) == ("spoiled", "foto bergaris")
        # Two physical cards, two entries out of stock.
        assert blanko.available() == 1
        kinds = sorted(db.session.execute(select(BlankoEntry.kind, BlankoEntry.print_job_id)
                                          .where(BlankoEntry.kind != "received")).all())
        assert kinds == [("used", first.id), ("used", second.id)]
        record = db.session.get(Enrollment, record_id)
        assert record is not None and record.state == "printed"
        history = printing.jobs_for_record(record_id)
        assert [(job.id, job.state, job.reprint_of) for job in history] == [
            (first.id, "spoiled", None), (second.id, "printed", first.id)]
        db.session.commit()
    with app.app_context():
        with pytest.raises(AlreadySpoiled):
            printing.spoil_and_reprint(first.id, "lagi", actor=SUPERVISOR)
        with pytest.raises(InvalidInput, match="Alasan"):
            printing.spoil_and_reprint(second.id, "  ", actor=SUPERVISOR)
        with pytest.raises(NotFound):
            printing.spoil_and_reprint(999_999, "rusak", actor=SUPERVISOR)
        with pytest.raises(Forbidden):
            printing.spoil_and_reprint(second.id, "rusak", actor=Actor("v", "viewer"))
        blanko.spoil(1, "tergores", actor=SUPERVISOR)
    before = counts(app)
    with app.app_context(), pytest.raises(OutOfStock, match="cetak ulang"):
        printing.spoil_and_reprint(second.id, "rusak", actor=SUPERVISOR)
    assert counts(app) == before


def test_queue_order_filters_and_priority(app: Flask, push: Push, make_record: Make) -> None:
    old = approved_record(app, push, make_record, birth=dt.date(1950, 1, 1))
    young = approved_record(app, push, make_record, birth=dt.date(2009, 1, 1), serial=7)
    other = approved_record(app, push, make_record, payload={"desa_kode": "61.09.01.2001"},
                            serial=8)
    approved_record(app, push, make_record, action="reject", serial=9)
    with app.app_context():
        page = printing.queue()
        assert [item.id for item in page.items] == [old, young, other]
        assert (page.total, page.waiting, page.priority) == (3, 3, 0)
        printing.set_priority(other, "ujian sekolah", actor=SUPERVISOR)
        page = printing.queue()
        assert [item.id for item in page.items] == [other, old, young]
        assert page.items[0].priority == "ujian sekolah" and page.priority == 1
        only = printing.queue(printing.Filters(priority_only=True))
        assert [item.id for item in only.items] == [other]
        mahap = printing.queue(printing.Filters(kecamatan="61.09.04"))
        assert [item.id for item in mahap.items] == [old, young]
        today = dt.date(2026, 11, 29)
        elderly = printing.queue(printing.Filters(age_min=60), today=today)
        assert [item.id for item in elderly.items] == [old]
        assert elderly.items[0].age == 76
        teens = printing.queue(printing.Filters(age_min=17, age_max=17), today=today)
        assert [item.id for item in teens.items] == [young]
        first = printing.queue(limit=2)
        assert [item.id for item in first.items] == [other, old] and first.total == 3
        second = printing.queue(after=first.next_after, limit=2)
        assert [item.id for item in second.items] == [young] and second.next_after is None
        printing.clear_priority(other, actor=SUPERVISOR)
        assert printing.queue().priority == 0


def test_bad_queue_filters_and_priority_refusals(app: Flask, push: Push,
                                                 make_record: Make) -> None:
    record_id = approved_record(app, push, make_record)
    rejected = approved_record(app, push, make_record, action="reject", serial=5)
    before = counts(app)
    with app.app_context():
        for bad in (printing.Filters(kecamatan="61.09"), printing.Filters(kecamatan="xx.yy.zz"),
                    printing.Filters(age_min=-1), printing.Filters(age_min=50, age_max=20)):
            with pytest.raises(InvalidInput):
                printing.queue(bad)
        for bad_page in ({"limit": 0}, {"limit": 501}, {"after": "x|y"},
                         {"after": "0|not-a-time|id"}):
            with pytest.raises(InvalidInput):
                printing.queue(**bad_page)
        with pytest.raises(NotPrintable, match="ditolak"):
            printing.set_priority(rejected, "lansia", actor=SUPERVISOR)
        with pytest.raises(InvalidInput, match="Alasan"):
            printing.set_priority(record_id, "", actor=SUPERVISOR)
        with pytest.raises(Forbidden):
            printing.set_priority(record_id, "lansia", actor=Actor("v", "viewer"))
        with pytest.raises(NotFound):
            printing.clear_priority(record_id, actor=SUPERVISOR)
    assert counts(app) == before


def test_printing_clears_the_priority_and_lists_today(app: Flask, push: Push,
                                                      make_record: Make) -> None:
    record_id = approved_record(app, push, make_record)
    add_stock(app, 2)
    with app.app_context():
        printing.set_priority(record_id, "lansia", actor=SUPERVISOR)
        job = printing.print_card(record_id, actor=SUPERVISOR)
        assert printing.queue().total == 0 and printing.queue().priority == 0
        jobs = printing.jobs_on()
        assert jobs.total == 1 and jobs.next_after is None
        assert [(row.id, row.nama, row.state) for row in jobs.items] == [
            (job.id, "MARIA GORETTI", "printed")]
