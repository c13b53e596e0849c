"""Blank cards (blanko), printing and the temporary certificate (Surat Keterangan, Suket).

The stock is a ledger: every movement is a ``blanko_entry`` row, never an edited balance. The
balance is the sum of the entries, read under the ``blanko_head`` row lock so that two printers
can never both take the last blank.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from server.core.models.base import Base
from server.core.models.types import BigId

#: Ledger entry kinds: blanks in (received) and out (used by a print, spoiled, returned).
RECEIVED, USED, SPOILED, RETURNED = "received", "used", "spoiled", "returned"
ENTRY_KINDS = (RECEIVED, USED, SPOILED, RETURNED)
#: Sign of each kind in the balance.
SIGN = {RECEIVED: 1, USED: -1, SPOILED: -1, RETURNED: -1}
#: Print job states: the card came out right, or it was spoiled (misprint, damaged).
PRINTED, MISPRINTED = "printed", "spoiled"
#: Suket states; "expired" is not stored: it follows from ``expires_on`` and the date.
SUKET_VALID, SUKET_SUPERSEDED = "valid", "superseded"


class BlankoEntry(Base):
    """One movement of blank cards; ``quantity`` is always positive, ``kind`` says which way."""

    __tablename__ = "blanko_entry"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        Index("ix_blanko_entry_entry_date", "entry_date"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))
    quantity: Mapped[int] = mapped_column(Integer)
    #: The office day (WIB) the movement happened.
    entry_date: Mapped[dt.date] = mapped_column(Date)
    #: The allocation letter of a receipt (or return), e.g. "470/1234/DUKCAPIL".
    reference: Mapped[str | None] = mapped_column(String(120))
    #: Why a blank was spoiled or returned.
    reason: Mapped[str | None] = mapped_column(String(300))
    print_job_id: Mapped[int | None] = mapped_column(ForeignKey("print_job.id"), index=True)
    actor: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime]


class BlankoHead(Base):
    """The one row every stock movement locks first (serialises the balance check)."""

    __tablename__ = "blanko_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    #: Id of the newest ledger entry (kept up to date under the lock; handy for caching).
    last_entry_id: Mapped[int] = mapped_column(BigId, default=0)


class PrintPriority(Base):
    """An approved record to print before the others (elderly, exam, ...), with the reason."""

    __tablename__ = "print_priority"

    enrollment_id: Mapped[str] = mapped_column(ForeignKey("enrollment.id"), primary_key=True)
    reason: Mapped[str] = mapped_column(String(120))
    set_by: Mapped[str] = mapped_column(String(64))
    set_at: Mapped[dt.datetime]


class PrintJob(Base):
    """One card put through the printer for a record: printed, or spoiled and reprinted."""

    __tablename__ = "print_job"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    enrollment_id: Mapped[str] = mapped_column(ForeignKey("enrollment.id"), index=True)
    state: Mapped[str] = mapped_column(String(16))
    printed_at: Mapped[dt.datetime]
    actor: Mapped[str] = mapped_column(String(64))
    #: The spoiled job this one reprints.
    reprint_of: Mapped[int | None] = mapped_column(ForeignKey("print_job.id"))
    spoil_reason: Mapped[str | None] = mapped_column(String(300))


class Suket(Base):
    """A Surat Keterangan pengganti KTP-el issued while no blank card is available."""

    __tablename__ = "suket"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    number: Mapped[str] = mapped_column(String(64), unique=True)
    enrollment_id: Mapped[str] = mapped_column(ForeignKey("enrollment.id"), index=True)
    state: Mapped[str] = mapped_column(String(16), default=SUKET_VALID)
    issued_on: Mapped[dt.date] = mapped_column(Date)
    expires_on: Mapped[dt.date] = mapped_column(Date)
    renewals: Mapped[int] = mapped_column(SmallInteger, default=0)
    issued_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime]
    superseded_at: Mapped[dt.datetime | None]
    #: The print job whose card replaced this Suket.
    print_job_id: Mapped[int | None] = mapped_column(ForeignKey("print_job.id"))
