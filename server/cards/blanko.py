"""The blank-card (blanko) ledger: receive, spoil, return; the balance, under a lock or not.

Every movement is one ``blanko_entry`` row (a positive quantity, the kind gives the sign);
the balance is never stored, it is ``SUM(SIGN * quantity)``. Every writer first locks the one
``blanko_head`` row (a no-op UPDATE, created lazily like the audit head) and reads the balance
under that lock, so two printers, or a printer and a return, can never both take the last
blank. Prints lock with :func:`lock_stock` and write their ``used`` entry with
:func:`add_entry` inside the print transaction (``server.cards.printing``).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, func, select, update
from sqlalchemy.exc import IntegrityError

from server.accounts.actor import Actor
from server.core import audit, paging
from server.core.errors import Forbidden, InvalidInput, NotEnoughStock
from server.core.extensions import db
from server.core.models import AuditEvent, BlankoEntry, BlankoHead, Enrollment, PrintJob, Suket
from server.core.models.base import table_of
from server.core.models.blanko import (
    ENTRY_KINDS,
    MISPRINTED,
    RECEIVED,
    RETURNED,
    SIGN,
    SPOILED,
    USED,
)
from server.core.timeutil import office_day_start, office_today, utcnow

HEAD_ID = 1
MAX_QUANTITY = 100_000
MAX_REFERENCE, MAX_REASON = 120, 300
#: Who may move stock: the people who sign for it.
STOCK_KEEPERS = frozenset({"supervisor", "admin"})
ACTIONS = {RECEIVED: "blanko_received", SPOILED: "blanko_spoiled", RETURNED: "blanko_returned"}


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


@dataclass(frozen=True)
class LedgerPage:
    """A page of the ledger (newest first), the cursor of the next page and the totals of
    every entry the filters select."""

    items: list[BlankoEntry]
    next_after: str | None
    total: int
    quantities: dict[str, int]  # blanks per kind among the selected entries


def ledger(kind: str | None = None, since: dt.date | None = None, until: dt.date | None = None,
           *, after: str | None = None, limit: int = paging.DEFAULT_LIMIT) -> LedgerPage:
    """Ledger entries of ``kind`` booked from ``since`` to ``until`` (office days), newest
    first, keyset paged after entry id ``after``."""
    if kind is not None and kind not in ENTRY_KINDS:
        raise InvalidInput(f"Jenis catatan '{kind}' tidak dikenal.")
    if since and until and since > until:
        raise InvalidInput("Tanggal awal sesudah tanggal akhir.")
    limit = paging.limit_of(limit)
    conditions = []
    if kind is not None:
        conditions.append(BlankoEntry.kind == kind)
    if since is not None:
        conditions.append(BlankoEntry.entry_date >= since)
    if until is not None:
        conditions.append(BlankoEntry.entry_date <= until)
    key = paging.parse_cursor(after, (int,))
    page = [*conditions, BlankoEntry.id < key[0]] if key else conditions
    rows = list(db.session.execute(
        select(BlankoEntry).where(*page).order_by(BlankoEntry.id.desc()).limit(limit + 1)
    ).scalars())
    sums = db.session.execute(
        select(BlankoEntry.kind, func.count(), func.coalesce(func.sum(BlankoEntry.quantity), 0))
        .where(*conditions).group_by(BlankoEntry.kind)).all()
    db.session.commit()
    return LedgerPage(rows[:limit],
                      paging.cursor(rows[limit - 1].id) if len(rows) > limit else None,
                      sum(int(count) for _, count, _ in sums),
                      {str(k): int(quantity) for k, _, quantity in sums})


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


# --- usage, forecast, daily summary ------------------------------------------------------------

WINDOW_DAYS = 14
MAX_FORECAST_DAYS = 365
QUEUE_STATES = ("approved", "suket_issued")


@dataclass(frozen=True)
class DayUsage:
    """Blanks out of stock on one office day."""

    day: dt.date
    used: int
    spoiled: int

    @property
    def total(self) -> int:
        """Used and spoiled together."""
        return self.used + self.spoiled


@dataclass(frozen=True)
class Forecast:
    """When stock runs out at the recent rate, and what to ask the province for."""

    balance: int
    window_days: int
    out_per_day: float
    days_left: int | None
    runs_out_on: dt.date | None
    queue: int
    approvals_per_day: float
    n_days: int
    request: int


@dataclass(frozen=True)
class DailySummary:
    """One office day's stock movements, the queue and the valid Sukets (publishable)."""

    day: dt.date
    opening: int
    received: int
    used: int
    misprinted: int
    spoiled: int
    returned: int
    closing: int
    queue: int
    valid_sukets: int


def usage_per_day(days: int = WINDOW_DAYS, today: dt.date | None = None) -> list[DayUsage]:
    """Used and spoiled blanks per WIB day, the last ``days`` days up to ``today``, oldest first."""
    today = today or office_today()
    start = today - dt.timedelta(days=days - 1)
    rows = db.session.execute(
        select(BlankoEntry.entry_date, BlankoEntry.kind, func.sum(BlankoEntry.quantity))
        .where(BlankoEntry.entry_date >= start, BlankoEntry.entry_date <= today,
               BlankoEntry.kind.in_((USED, SPOILED)))
        .group_by(BlankoEntry.entry_date, BlankoEntry.kind)
    ).all()
    db.session.commit()
    found = {(day, kind): int(total) for day, kind, total in rows}
    return [DayUsage(day, found.get((day, USED), 0), found.get((day, SPOILED), 0))
            for day in (start + dt.timedelta(days=offset) for offset in range(days))]


def forecast(n_days: Any = 30, today: dt.date | None = None) -> Forecast:
    """Rate of the last 14 days, the day stock runs out, and the blanks to request.

    request = queue + n_days * approvals per day (last 14 days) - balance, floored at 0.
    """
    if isinstance(n_days, bool) or not isinstance(n_days, int) or not (
            1 <= n_days <= MAX_FORECAST_DAYS):
        raise InvalidInput(f"Jumlah hari perkiraan harus bilangan bulat 1..{MAX_FORECAST_DAYS}.")
    today = today or office_today()
    stock = _balance()
    out = sum(day.total for day in usage_per_day(WINDOW_DAYS, today))
    rate = out / WINDOW_DAYS
    days_left = int(stock // rate) if rate > 0 else None
    waiting = queue_length()
    approvals = _approvals_since(today - dt.timedelta(days=WINDOW_DAYS - 1), today) / WINDOW_DAYS
    request = max(0, math.ceil(waiting + n_days * approvals - stock))
    db.session.commit()
    return Forecast(balance=stock, window_days=WINDOW_DAYS, out_per_day=round(rate, 2),
                    days_left=days_left,
                    runs_out_on=today + dt.timedelta(days=days_left)
                    if days_left is not None else None,
                    queue=waiting, approvals_per_day=round(approvals, 2), n_days=n_days,
                    request=request)


def queue_length() -> int:
    """Records waiting for a card (approved, or holding a Suket)."""
    return int(db.session.execute(select(func.count()).select_from(Enrollment)
                                  .where(Enrollment.state.in_(QUEUE_STATES))).scalar_one())


def _approvals_since(start: dt.date, last: dt.date) -> int:
    """Records approved on WIB days ``start`` to ``last``, from the audit chain."""
    since = office_day_start(start)
    until = office_day_start(last + dt.timedelta(days=1))
    return int(db.session.execute(
        select(func.count()).select_from(AuditEvent)
        .where(AuditEvent.to_state == "approved", AuditEvent.at >= since,
               AuditEvent.at < until)
    ).scalar_one())


def daily_summary(day: dt.date | None = None) -> DailySummary:
    """The stock book of one office day: opening, movements, closing, queue, valid Sukets."""
    day = day or office_today()
    if day > office_today():
        raise InvalidInput("Tanggal ringkasan tidak boleh di masa depan.")
    opening = int(db.session.execute(
        select(_signed_sum()).where(BlankoEntry.entry_date < day)).scalar_one())
    moved = dict(db.session.execute(
        select(BlankoEntry.kind, func.sum(BlankoEntry.quantity))
        .where(BlankoEntry.entry_date == day).group_by(BlankoEntry.kind)).all())
    start = office_day_start(day)
    end = start + dt.timedelta(days=1)
    misprinted = db.session.execute(
        select(func.count()).select_from(PrintJob)
        .where(PrintJob.state == MISPRINTED, PrintJob.printed_at >= start,
               PrintJob.printed_at < end)).scalar_one()
    sukets = db.session.execute(
        select(func.count()).select_from(Suket)
        .where(Suket.issued_on <= day, Suket.expires_on >= day,
               (Suket.superseded_at.is_(None)) | (Suket.superseded_at >= end))).scalar_one()
    counts = {kind: int(moved.get(kind) or 0) for kind in SIGN}
    closing = opening + sum(SIGN[kind] * counts[kind] for kind in SIGN)
    waiting = queue_length() if day == office_today() else _queue_at(end)
    db.session.commit()
    return DailySummary(day=day, opening=opening, received=counts[RECEIVED], used=counts[USED],
                        misprinted=int(misprinted), spoiled=counts[SPOILED],
                        returned=counts[RETURNED], closing=closing, queue=waiting,
                        valid_sukets=int(sukets))


def _queue_at(end: dt.datetime) -> int:
    """The queue at the end of a past day, from the audit chain: moves in minus moves out."""
    moves = db.session.execute(
        select(AuditEvent.from_state, AuditEvent.to_state, func.count())
        .where(AuditEvent.at < end, AuditEvent.record_id.is_not(None),
               (AuditEvent.to_state.in_(QUEUE_STATES)) | (AuditEvent.from_state.in_(QUEUE_STATES)))
        .group_by(AuditEvent.from_state, AuditEvent.to_state)).all()
    total = 0
    for from_state, to_state, count in moves:
        total += int(count) * ((to_state in QUEUE_STATES) - (from_state in QUEUE_STATES))
    return max(total, 0)
