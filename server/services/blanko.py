"""The blank-card (blanko) ledger: receive, spoil, return; the balance, under a lock or not.

Every movement is one ``blanko_entry`` row (a positive quantity, the kind gives the sign);
the balance is never stored, it is ``SUM(SIGN * quantity)``. Every writer first locks the one
``blanko_head`` row (a no-op UPDATE, created lazily like the audit head) and reads the balance
under that lock, so two printers, or a printer and a return, can never both take the last
blank. Prints write their ``used`` entry through :func:`take` inside the print transaction
(``server.services.printing``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import case, func, select, update
from sqlalchemy.exc import IntegrityError

from server.errors import Conflict, Forbidden, InvalidInput
from server.extensions import db
from server.models import BlankoEntry, BlankoHead
from server.models.base import table_of
from server.models.blanko import RECEIVED, RETURNED, SIGN, SPOILED
from server.services import audit
from server.services.dashboard import WIB
from server.services.review import Actor
from server.timeutil import utcnow

HEAD_ID = 1
MAX_QUANTITY = 100_000
MAX_REFERENCE, MAX_REASON = 120, 300
#: Who may move stock: the people who sign for it.
STOCK_KEEPERS = frozenset({"supervisor", "admin"})
ACTIONS = {RECEIVED: "blanko_received", SPOILED: "blanko_spoiled", RETURNED: "blanko_returned"}


class OutOfStock(Conflict):
    code, title = "out_of_stock", "Stok blanko habis"


class NotEnoughStock(Conflict):
    code, title = "not_enough_stock", "Stok blanko tidak cukup"


def office_today(now: dt.datetime | None = None) -> dt.date:
    """Today in Sekadau (WIB): the day ledger entries are booked on."""
    return (now or utcnow()).astimezone(WIB).date()


# --- the balance -------------------------------------------------------------------------

def _signed_sum() -> Any:
    sign = case(*[(BlankoEntry.kind == kind, value) for kind, value in SIGN.items()], else_=0)
    return func.coalesce(func.sum(sign * BlankoEntry.quantity), 0)


def _balance() -> int:
    return int(db.session.execute(select(_signed_sum())).scalar_one())


def available() -> int:
    """Blanks in stock, read without a lock (display and the Suket decision); commits."""
    balance = _balance()
    db.session.commit()
    return balance


def balance() -> int:
    """The ledger's balance (alias of :func:`available`)."""
    return available()


def lock_stock() -> int:
    """Lock the stock head row (creating it on an empty ledger); return the balance under it.

    Call inside the transaction that will move stock: the lock holds until it commits.
    """
    table = table_of(BlankoHead)
    for _ in range(3):
        # A no-op UPDATE takes the row lock on PostgreSQL and the write lock on SQLite.
        locked = db.session.execute(
            update(table).where(table.c.id == HEAD_ID).values(last_entry_id=table.c.last_entry_id)
        ).rowcount  # type: ignore[attr-defined]
        if locked:
            return _balance()
        try:
            with db.session.begin_nested():
                db.session.execute(table.insert().values(id=HEAD_ID, last_entry_id=0))
        except IntegrityError:
            continue  # another writer created it first: lock theirs
    raise RuntimeError("blanko_head could not be locked")


def add_entry(kind: str, quantity: int, *, actor: str, entry_date: dt.date | None = None,
              reference: str | None = None, reason: str | None = None,
              print_job_id: int | None = None) -> BlankoEntry:
    """Write one entry under the lock already held (caller locked and commits)."""
    entry = BlankoEntry(kind=kind, quantity=quantity, entry_date=entry_date or office_today(),
                        reference=reference, reason=reason, print_job_id=print_job_id,
                        actor=actor, created_at=utcnow())
    db.session.add(entry)
    db.session.flush()
    table = table_of(BlankoHead)
    db.session.execute(update(table).where(table.c.id == HEAD_ID)
                       .values(last_entry_id=entry.id))
    return entry


def take(quantity: int, *, kind: str, actor: str, print_job_id: int | None = None,
         reason: str | None = None) -> BlankoEntry:
    """Take ``quantity`` blanks out (used/spoiled) under the lock; 409 when not enough."""
    stock = lock_stock()
    if stock <= 0:
        raise OutOfStock("Stok blanko habis: tidak ada blanko untuk dicetak. Terbitkan Suket "
                         "atau catat penerimaan blanko baru.")
    if quantity > stock:
        raise NotEnoughStock(f"Stok blanko hanya {stock}; tidak bisa mengeluarkan {quantity}.")
    return add_entry(kind, quantity, actor=actor, reason=reason, print_job_id=print_job_id)


# --- movements from the office -------------------------------------------------------------

def receive(quantity: Any, reference: Any, entry_date: dt.date | None = None, *,
            actor: Actor) -> BlankoEntry:
    """Book an allocation from the province (letter ``reference``); commit and return it."""
    _require(actor, "mencatat penerimaan blanko")
    count = check_quantity(quantity)
    letter = required_text(reference, "Nomor surat alokasi (referensi)", MAX_REFERENCE)
    day = _check_date(entry_date)
    lock_stock()
    entry = add_entry(RECEIVED, count, actor=actor.audit_name, entry_date=day, reference=letter)
    _audit(entry)
    db.session.commit()
    return entry


def spoil(quantity: Any, reason: Any, *, actor: Actor,
          print_job_id: int | None = None) -> BlankoEntry:
    """Book blanks damaged outside a print (or a misprint's job); commit and return it."""
    _require(actor, "mencatat blanko rusak")
    count = check_quantity(quantity)
    why = required_text(reason, "Alasan blanko rusak", MAX_REASON)
    return _out(SPOILED, count, actor, reason=why, print_job_id=print_job_id)


def return_(quantity: Any, reference: Any, reason: Any, *, actor: Actor) -> BlankoEntry:
    """Book blanks sent back (to the province, another regency); commit and return it."""
    _require(actor, "mencatat pengembalian blanko")
    count = check_quantity(quantity)
    why = required_text(reason, "Alasan pengembalian", MAX_REASON)
    letter = _optional_text(reference, "Referensi", MAX_REFERENCE)
    return _out(RETURNED, count, actor, reason=why, reference=letter)


def _out(kind: str, count: int, actor: Actor, *, reason: str, reference: str | None = None,
         print_job_id: int | None = None) -> BlankoEntry:
    stock = lock_stock()
    if count > stock:
        db.session.rollback()
        raise NotEnoughStock(f"Stok blanko hanya {stock}; tidak bisa mencatat {count} blanko "
                             "keluar (saldo tidak boleh di bawah 0).")
    entry = add_entry(kind, count, actor=actor.audit_name, reference=reference, reason=reason,
                      print_job_id=print_job_id)
    _audit(entry)
    db.session.commit()
    return entry


def _audit(entry: BlankoEntry) -> None:
    audit.append([audit.Event(
        actor=entry.actor, action=ACTIONS.get(entry.kind, f"blanko_{entry.kind}"),
        reason=entry.reason,
        detail={"entry_id": entry.id, "quantity": entry.quantity, "reference": entry.reference,
                "entry_date": entry.entry_date.isoformat(),
                "print_job_id": entry.print_job_id},
    )])


# --- validation ----------------------------------------------------------------------------

def check_quantity(value: Any) -> int:
    """A whole number of blanks, 1..100,000; anything else is a clear 400."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput("Jumlah blanko harus bilangan bulat (contoh: 2000).")
    if value <= 0:
        raise InvalidInput("Jumlah blanko harus lebih dari 0.")
    if value > MAX_QUANTITY:
        raise InvalidInput(f"Jumlah blanko paling banyak {MAX_QUANTITY:,} per catatan."
                           .replace(",", "."))
    return value


def required_text(value: Any, label: str, limit: int) -> str:
    text = _optional_text(value, label, limit)
    if text is None:
        raise InvalidInput(f"{label} wajib diisi.")
    return text


def _optional_text(value: Any, label: str, limit: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"{label} harus berupa teks.")
    text = " ".join(value.split())
    if len(text) > limit:
        raise InvalidInput(f"{label} terlalu panjang (paling banyak {limit} karakter).")
    return text or None


def _check_date(value: dt.date | None) -> dt.date:
    today = office_today()
    if value is None:
        return today
    if not isinstance(value, dt.date):
        raise InvalidInput("Tanggal harus berupa tanggal (YYYY-MM-DD).")
    if value > today:
        raise InvalidInput("Tanggal penerimaan tidak boleh di masa depan.")
    return value


def _require(actor: Actor, doing: str) -> None:
    if actor.role not in STOCK_KEEPERS:
        raise Forbidden(f"Hanya supervisor atau admin yang boleh {doing}.")
