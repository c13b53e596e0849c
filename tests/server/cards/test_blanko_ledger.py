"""The blanko ledger: receive, spoil, return; the balance; refusals write nothing."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from server.accounts.actor import Actor
from server.cards import blanko
from server.core.errors import Forbidden, InvalidInput, NotEnoughStock
from server.core.extensions import db
from server.core.models import AuditEvent, BlankoEntry, BlankoHead

SUPERVISOR = Actor("sari", "supervisor")
ADMIN = Actor("root", "admin")


def ledger(app: Flask) -> dict[str, Any]:
    """Ledger rows and the audit length: what a refusal must leave unchanged."""
    with app.app_context():
        rows = sorted(db.session.execute(
            select(BlankoEntry.kind, BlankoEntry.quantity, BlankoEntry.reference,
                   BlankoEntry.reason)).all())
        events = db.session.execute(select(func.count()).select_from(AuditEvent)).scalar_one()
        db.session.commit()
        return {"rows": rows, "audit": events}


def test_empty_ledger_has_zero_balance_and_lock_creates_the_head(app: Flask) -> None:
    with app.app_context():
        assert blanko.available() == 0
        assert blanko.lock_stock() == 0
        db.session.commit()
        assert db.session.get(BlankoHead, 1) is not None
        assert blanko.lock_stock() == 0  # the second time locks the existing row
        db.session.commit()


def test_receive_spoil_return_move_the_balance(app: Flask) -> None:
    with app.app_context():
        entry = blanko.receive(2000, "470/1234/DUKCAPIL", dt.date(2026, 11, 2), actor=SUPERVISOR)
        assert (entry.kind, entry.quantity, entry.actor) == ("received", 2000, "user:sari")
        assert entry.entry_date == dt.date(2026, 11, 2)
        assert blanko.available() == 2000
        blanko.spoil(3, "  kartu tergores  ", actor=ADMIN)
        blanko.return_(97, "470/99/DUKCAPIL", "dialihkan ke Kab. Sanggau", actor=SUPERVISOR)
        assert blanko.available() == 1900
        assert blanko.lock_stock() == 1900
        db.session.commit()
        head = db.session.get(BlankoHead, 1)
        last = db.session.execute(select(func.max(BlankoEntry.id))).scalar_one()
        assert head is not None and head.last_entry_id == last
        actions = db.session.execute(select(AuditEvent.action).order_by(AuditEvent.id)).scalars()
        assert list(actions) == ["blanko_received", "blanko_spoiled", "blanko_returned"]
        spoiled = db.session.execute(
            select(BlankoEntry).where(BlankoEntry.kind == "spoiled")).scalar_one()
        assert spoiled.reason == "kartu tergores"
        db.session.commit()


@pytest.mark.parametrize("quantity, words", [
    (0, "lebih dari 0"), (-5, "lebih dari 0"), (2.5, "bilangan bulat"), ("10", "bilangan bulat"),
    (True, "bilangan bulat"), (None, "bilangan bulat"), (100_001, "paling banyak 100.000"),
    (10**12, "paling banyak"),
])
def test_bad_quantities_are_refused_and_write_nothing(app: Flask, quantity: Any,
                                                      words: str) -> None:
    with app.app_context():
        blanko.receive(10, "470/1/DUKCAPIL", actor=SUPERVISOR)
    before = ledger(app)
    with app.app_context():
        for call in (lambda: blanko.receive(quantity, "470/2/DUKCAPIL", actor=SUPERVISOR),
                     lambda: blanko.spoil(quantity, "rusak", actor=SUPERVISOR),
                     lambda: blanko.return_(quantity, None, "kembali", actor=SUPERVISOR)):
            with pytest.raises(InvalidInput, match=words):
                call()
            db.session.rollback()
    assert ledger(app) == before


@pytest.mark.parametrize("reference", [None, "", "   ", 42, "x" * 121])
def test_receive_needs_a_reference(app: Flask, reference: Any) -> None:
    before = ledger(app)
    with app.app_context(), pytest.raises(InvalidInput, match=r"referensi"):
        blanko.receive(100, reference, actor=SUPERVISOR)
    assert ledger(app) == before


def test_receive_refuses_a_future_date(app: Flask) -> None:
    before = ledger(app)
    with app.app_context():
        tomorrow = blanko.office_today() + dt.timedelta(days=1)
        with pytest.raises(InvalidInput, match="masa depan"):
            blanko.receive(100, "470/1/DUKCAPIL", tomorrow, actor=SUPERVISOR)
    assert ledger(app) == before


def test_spoil_and_return_need_a_reason(app: Flask) -> None:
    with app.app_context():
        blanko.receive(10, "470/1/DUKCAPIL", actor=SUPERVISOR)
    before = ledger(app)
    with app.app_context():
        with pytest.raises(InvalidInput, match="Alasan"):
            blanko.spoil(1, " ", actor=SUPERVISOR)
        with pytest.raises(InvalidInput, match="Alasan"):
            blanko.return_(1, "470/9", None, actor=SUPERVISOR)
    assert ledger(app) == before


def test_spoil_or_return_beyond_the_stock_is_refused(app: Flask) -> None:
    with app.app_context():
        blanko.receive(5, "470/1/DUKCAPIL", actor=SUPERVISOR)
    before = ledger(app)
    with app.app_context():
        with pytest.raises(NotEnoughStock, match="hanya 5") as raised:
            blanko.spoil(6, "rusak", actor=SUPERVISOR)
        assert (raised.value.status, raised.value.code) == (409, "not_enough_stock")
        with pytest.raises(NotEnoughStock, match="di bawah 0"):
            blanko.return_(6, None, "kembali", actor=SUPERVISOR)
        assert blanko.available() == 5
    assert ledger(app) == before
    with app.app_context():
        blanko.spoil(5, "rusak semua", actor=SUPERVISOR)  # exactly the stock is fine
        assert blanko.available() == 0


@pytest.mark.parametrize("role", ["viewer", "reviewer"])
def test_viewers_and_reviewers_cannot_move_stock(app: Flask, role: str) -> None:
    with app.app_context():
        blanko.receive(5, "470/1/DUKCAPIL", actor=SUPERVISOR)
    before = ledger(app)
    who = Actor("budi", role)
    with app.app_context():
        for call in (lambda: blanko.receive(5, "470/2/DUKCAPIL", actor=who),
                     lambda: blanko.spoil(1, "rusak", actor=who),
                     lambda: blanko.return_(1, None, "kembali", actor=who)):
            with pytest.raises(Forbidden, match="supervisor atau admin"):
                call()
    assert ledger(app) == before
