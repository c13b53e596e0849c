"""The Surat Keterangan pengganti KTP-el (Suket): issue, renew, supersede, list, verify.

A Suket stands in for the card while no blank is available. It is ``valid`` until the card is
printed (then ``superseded``, by :func:`supersede_for_print` inside the print transaction);
"expired" is never stored: it follows from ``expires_on`` and the office day (WIB).

Numbers read ``470/00123/SKT-DKPS/2026``: 470 is the archive class of population letters, then
a five-digit sequence that restarts every year, the issuing office (Disdukcapil Sekadau) and
the year of issue. They are handed out under the blanko stock lock (the same row every print
and ledger entry locks), so two issuers never take the same number and a Suket is never
issued while a concurrent receipt makes blanks available; the unique constraint is the
backstop (one retry).

The QR code's token is ``<id>.<kid>.<mac>``: the mac is HMAC-SHA256 of
``suket:<kid>:<id>:<number>`` under the office key ring's Suket key ``kid``
(``server.core.keyring``; shared by every app host, apart from the session key), first 18 bytes
(144 bits) in base64url. ``jemput-server rotate-suket-key`` makes a new key current and keeps
the older ones, so every printed QR code still verifies. Tokens printed before Suket keys,
``<id>.<mac>`` over ``suket:<id>:<number>`` under the app's secret key, still verify that way.
Nothing about a token is stored; a forged or altered token, or one made under another key, is
simply unknown.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import re
from collections.abc import Collection
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from server.accounts.actor import Actor
from server.cards import blanko
from server.core import audit, keyring, paging
from server.core.errors import (
    BlankoAvailable,
    Conflict,
    Forbidden,
    InvalidInput,
    NotEligible,
    NotFound,
    RenewalNotDue,
    SuketExists,
    SuketSuperseded,
)
from server.core.extensions import db
from server.core.models import Enrollment, Region, Suket
from server.core.models.base import table_of
from server.core.models.blanko import SUKET_SUPERSEDED, SUKET_VALID
from server.core.timeutil import office_today, utcnow
from server.registry.wajib import add_months
from server.sync.transitions import Move, move_records
from shared.display import mask_name
from shared.labels import state_label
from shared.protocol import ServerState

SUPERSEDED_ACTION = "suket_superseded"
ISSUE_ACTION, RENEW_ACTION = "suket_issue", "suket_renewed"
#: Who may issue and renew: the people who sign off on stock. Reviewers decide records, they
#: do not hand out documents.
ISSUERS = frozenset({"supervisor", "admin"})
VALID_MONTHS = 6
EXPIRING_DAYS = 30
NUMBER_PREFIX, NUMBER_OFFICE = "470", "SKT-DKPS"
APPROVED = ServerState.APPROVED.value
SUKET_ISSUED = ServerState.SUKET_ISSUED.value
PRINTED = ServerState.PRINTED.value
MAC_BYTES = 18
#: ``<id>.<kid>.<mac>``, or ``<id>.<mac>`` as printed before Suket keys.
TOKEN = re.compile(r"([1-9][0-9]{0,17})\.(?:(s[0-9a-f]{8})\.)?([A-Za-z0-9_-]{24})")
#: List filters: what the office asks for.
STATUSES = ("valid", "expiring", "expired", "superseded", "waiting", "all")


@dataclass(frozen=True)
class SuketInfo:
    """One Suket as the office sees it, with its status on ``today``."""

    id: int
    number: str
    enrollment_id: str
    nik: str
    nama: str
    desa_kode: str
    desa_nama: str
    record_state: str
    state: str
    status: str
    issued_on: dt.date
    expires_on: dt.date
    days_left: int
    renewals: int
    issued_by: str
    superseded_at: dt.datetime | None
    print_job_id: int | None

    @property
    def waiting(self) -> bool:
        """Must come back for a card when blanks arrive: not superseded, record not printed."""
        return self.state == SUKET_VALID and self.record_state != PRINTED


@dataclass(frozen=True)
class SuketList:
    """A page of Sukets and the counts behind the filter tabs."""

    items: list[SuketInfo]
    counts: dict[str, int]
    status: str
    total: int
    next_after: str | None = None  # the cursor of the next page (Sukets newest first)


@dataclass(frozen=True)
class Verification:
    """What ``/verify/<token>`` may say: the status and the minimal view, nothing else."""

    status: str
    number: str
    nama: str
    nik_last4: str
    issued_on: dt.date
    expires_on: dt.date
    superseded_on: dt.date | None


available = blanko.available  # blanks in stock, for the pages


# --- issue, renew, supersede -------------------------------------------------------------

def record_of(record_or_nik: str) -> str:
    """The record a Suket is asked for: a record id as it is, or a NIK's standing approved (or
    Suket-holding) record; an unknown NIK is a 404."""
    text_ = record_or_nik.strip()
    if not (len(text_) == 16 and text_.isascii() and text_.isdigit()):
        return text_
    found = db.session.execute(
        select(Enrollment.id).where(Enrollment.nik == text_,
                                    Enrollment.state.in_((APPROVED, SUKET_ISSUED)))
        .order_by(Enrollment.state_changed_at.desc()).limit(1)).scalar_one_or_none()
    db.session.commit()
    if found is None:
        raise NotFound(f"Tidak ada rekaman disetujui dengan NIK {text_}.")
    return str(found)


def issue(record_id: str, actor: Actor, *, on_request: bool = False,
          today: dt.date | None = None) -> SuketInfo:
    """Issue a Suket for approved record ``record_id``; commit and return it.

    Refused (nothing written): a role other than supervisor/admin (403), an unknown record
    (404), a record not approved (409 ``not_eligible``, naming its state), a record that has a
    valid Suket already (409 ``suket_exists``, naming its number), blanks in stock unless the
    resident asked for a Suket (409 ``blanko_available``).
    """
    _require(actor, "menerbitkan Suket")
    today = today or office_today()
    try:
        balance = blanko.lock_stock()
        record = db.session.get(Enrollment, record_id)
        if record is None:
            raise NotFound(f"Rekaman {record_id} tidak ditemukan.")
        existing = _valid_suket_of(record_id)
        if existing is not None:
            raise SuketExists(f"Rekaman ini sudah punya Suket {existing.number} (berlaku s/d "
                              f"{existing.expires_on:%d-%m-%Y}); cetak ulang PDF-nya atau "
                              "perpanjang, jangan terbitkan yang baru.")
        if record.state != APPROVED:
            raise NotEligible(f"Suket hanya untuk rekaman yang disetujui; rekaman ini "
                              f"berstatus '{state_label(record.state)}'.")
        if balance > 0 and not on_request:
            raise BlankoAvailable(f"Masih ada {balance} blanko: cetak KTP-el saja. Suket "
                                  "hanya diterbitkan bila blanko habis atau atas permintaan.")
        now = utcnow()
        suket = _insert(record, actor, today, now)
        moved = move_records([Move(record.id, record.device_id, APPROVED, SUKET_ISSUED)],
                             actor=actor.audit_name, action=ISSUE_ACTION, at=now,
                             detail={"suket_id": suket.id, "number": suket.number,
                                     "expires_on": suket.expires_on.isoformat(),
                                     "on_request": on_request})
        if not moved:
            raise Conflict(f"Rekaman {record_id} baru saja berubah; muat ulang halaman.")
        suket_id = suket.id
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return get(suket_id, today=today)


def _insert(record: Enrollment, actor: Actor, today: dt.date, now: dt.datetime) -> Suket:
    """Add the Suket with the year's next number (retried once should the number be taken)."""
    for attempt in range(2):
        suket = Suket(number=_next_number(today.year), enrollment_id=record.id,
                      state=SUKET_VALID, issued_on=today,
                      expires_on=add_months(today, VALID_MONTHS), renewals=0,
                      issued_by=actor.audit_name, created_at=now)
        try:
            with db.session.begin_nested():
                db.session.add(suket)
            return suket
        except IntegrityError:
            if attempt:
                raise
            db.session.expunge(suket)
    raise AssertionError("unreachable")


def _next_number(year: int) -> str:
    """The year's next number; the sequence is zero-padded, so the text orders as numbers."""
    pattern = f"{NUMBER_PREFIX}/%/{NUMBER_OFFICE}/{year}"
    last = db.session.execute(
        select(Suket.number).where(Suket.number.like(pattern))
        .order_by(func.length(Suket.number).desc(), Suket.number.desc()).limit(1)
    ).scalar()
    sequence = int(last.split("/")[1]) + 1 if last else 1
    return f"{NUMBER_PREFIX}/{sequence:05d}/{NUMBER_OFFICE}/{year}"


def renew(suket_id: int, actor: Actor, *, today: dt.date | None = None) -> SuketInfo:
    """Six more months from the later of today and the expiry date; commit and return it.

    Only a Suket not superseded, expired or expiring within ``EXPIRING_DAYS``, and only while
    no blank is in stock (409 otherwise).
    """
    _require(actor, "memperpanjang Suket")
    today = today or office_today()
    try:
        balance = blanko.lock_stock()
        suket = db.session.get(Suket, suket_id)
        if suket is None:
            raise NotFound(f"Suket {suket_id} tidak ditemukan.")
        if suket.state == SUKET_SUPERSEDED:
            raise SuketSuperseded(f"Suket {suket.number} sudah diganti KTP-el yang dicetak; "
                                  "tidak dapat diperpanjang.")
        if balance > 0:
            raise BlankoAvailable(f"Masih ada {balance} blanko: cetak KTP-el pemegang Suket "
                                  f"{suket.number} alih-alih memperpanjangnya.")
        if suket.expires_on > today + dt.timedelta(days=EXPIRING_DAYS):
            # Renewing is for a Suket about to run out; this also makes a second click harmless.
            raise RenewalNotDue(f"Suket {suket.number} masih berlaku sampai "
                                f"{suket.expires_on:%d-%m-%Y}; perpanjangan paling cepat "
                                f"{EXPIRING_DAYS} hari sebelum habis.")
        old = suket.expires_on
        suket.expires_on = add_months(max(today, old), VALID_MONTHS)
        suket.renewals += 1
        audit.append([audit.Event(
            actor=actor.audit_name, action=RENEW_ACTION, record_id=suket.enrollment_id,
            detail={"suket_id": suket.id, "number": suket.number, "renewals": suket.renewals,
                    "expires_on": {"from": old.isoformat(),
                                   "to": suket.expires_on.isoformat()}})])
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return get(suket_id, today=today)


def supersede_for_print(record_id: str, print_job_id: int, at: dt.datetime, *,
                        actor: str = audit.SYSTEM) -> int:
    """Mark the record's valid Sukets superseded by print job ``print_job_id``; how many.

    Called inside the print transaction (the caller commits): a Suket past its expiry date is
    still stored ``valid`` and is superseded too. One ``suket_superseded`` audit event each.
    """
    table = table_of(Suket)
    rows = sorted(db.session.execute(
        update(table).where(table.c.enrollment_id == record_id, table.c.state == SUKET_VALID)
        .values(state=SUKET_SUPERSEDED, superseded_at=at, print_job_id=print_job_id)
        .returning(table.c.id, table.c.number)
    ).all())
    if not rows:
        return 0
    audit.append([
        audit.Event(actor=actor, action=SUPERSEDED_ACTION, record_id=record_id,
                    from_state=SUKET_VALID, to_state=SUKET_SUPERSEDED,
                    detail={"suket_id": row.id, "number": row.number,
                            "print_job_id": print_job_id})
        for row in rows
    ], at=at)
    return len(rows)


def _require(actor: Actor, what: str, roles: Collection[str] = ISSUERS) -> None:
    if actor.role not in roles:
        raise Forbidden(f"Peran '{actor.role}' tidak boleh {what}.")


def _valid_suket_of(record_id: str) -> Suket | None:
    return db.session.execute(
        select(Suket).where(Suket.enrollment_id == record_id, Suket.state == SUKET_VALID)
        .order_by(Suket.id.desc()).limit(1)
    ).scalar()


# --- reading -----------------------------------------------------------------------------

def parse_id(text: str) -> int:
    """A Suket id from a URL: digits only, else 404 (routes take plain ``<suket_id>``)."""
    if not re.fullmatch(r"[1-9][0-9]{0,17}", text):
        raise NotFound(f"Suket {text[:40]} tidak ditemukan.")
    return int(text)


def get(suket_id: int, *, today: dt.date | None = None) -> SuketInfo:
    """One Suket (404 when unknown)."""
    rows = _infos(Suket.id == suket_id, today or office_today(), limit=1)
    db.session.commit()
    if not rows:
        raise NotFound(f"Suket {suket_id} tidak ditemukan.")
    return rows[0]


def listing(status: str = "waiting", *, today: dt.date | None = None, query: str = "",
            after: str | None = None, limit: int = paging.DEFAULT_LIMIT) -> SuketList:
    """Sukets with ``status`` (see :data:`STATUSES`), newest first, keyset paged after Suket id
    ``after``, and the counts of each status."""
    limit = paging.limit_of(limit)
    key = paging.parse_cursor(after, (int,))
    if status not in STATUSES:
        raise InvalidInput(f"'status' harus salah satu dari: {', '.join(STATUSES)}.",
                           errors={"status": ["tidak dikenal"]})
    today = today or office_today()
    condition = _status_condition(status, today)
    text_ = query.strip()
    if text_:
        condition = and_(condition, or_(Suket.number == text_, Enrollment.nik == text_,
                                        Suket.enrollment_id == text_))
    page = and_(condition, Suket.id < key[0]) if key else condition
    items = _infos(page, today, limit=limit + 1)
    counts = {name: int(db.session.execute(
        select(func.count()).select_from(Suket).join(Enrollment)
        .where(_status_condition(name, today))).scalar_one())
        for name in STATUSES}
    total = int(db.session.execute(
        select(func.count()).select_from(Suket).join(Enrollment).where(condition)).scalar_one())
    db.session.commit()
    more = len(items) > limit
    return SuketList(items=items[:limit], counts=counts, status=status, total=total,
                     next_after=paging.cursor(items[limit - 1].id) if more else None)


def _status_condition(status: str, today: dt.date) -> ColumnElement[bool]:
    valid = Suket.state == SUKET_VALID
    soon = today + dt.timedelta(days=EXPIRING_DAYS)
    conditions: dict[str, ColumnElement[bool]] = {
        "valid": and_(valid, Suket.expires_on >= today),
        "expiring": and_(valid, Suket.expires_on >= today, Suket.expires_on <= soon),
        "expired": and_(valid, Suket.expires_on < today),
        "superseded": Suket.state == SUKET_SUPERSEDED,
        "waiting": and_(valid, Enrollment.state != PRINTED),
        "all": Suket.id.is_not(None),
    }
    return conditions[status]


def _infos(condition: ColumnElement[bool], today: dt.date, *, limit: int) -> list[SuketInfo]:
    rows = db.session.execute(
        select(Suket, Enrollment.nik, Enrollment.payload, Enrollment.desa_kode,
               Enrollment.state, Region.nama)
        .join(Enrollment, Enrollment.id == Suket.enrollment_id)
        .outerjoin(Region, Region.kode == Enrollment.desa_kode)
        .where(condition).order_by(Suket.id.desc()).limit(limit)
    ).all()
    return [_info(row[0], row[1], row[2], row[3], row[4], row[5], today) for row in rows]


def _info(suket: Suket, nik: str, payload: dict[str, object], desa_kode: str,
          record_state: str, desa_nama: str | None, today: dt.date) -> SuketInfo:
    return SuketInfo(
        id=suket.id, number=suket.number, enrollment_id=suket.enrollment_id, nik=nik,
        nama=str(payload.get("nama") or ""), desa_kode=desa_kode, desa_nama=desa_nama or "",
        record_state=record_state, state=suket.state, status=status_of(suket, today),
        issued_on=suket.issued_on, expires_on=suket.expires_on,
        days_left=(suket.expires_on - today).days, renewals=suket.renewals,
        issued_by=suket.issued_by, superseded_at=suket.superseded_at,
        print_job_id=suket.print_job_id)


def status_of(suket: Suket, today: dt.date) -> str:
    """``superseded``, ``expired`` (after its last day) or ``valid``."""
    if suket.state == SUKET_SUPERSEDED:
        return "superseded"
    return "expired" if suket.expires_on < today else "valid"


# --- the QR token and verification -------------------------------------------------------

def token_for(suket_id: int, number: str) -> str:
    """The unguessable token of a Suket, under the key ring's current Suket key (recomputed,
    never stored); under the secret key, as before Suket keys, in a ring without one."""
    key = keyring.current().suket
    if key is None:
        return f"{suket_id}.{_legacy_mac(suket_id, number)}"
    return token_with(key, suket_id, number)


def token_with(key: keyring.SuketKey, suket_id: int, number: str) -> str:
    """The token of a Suket under ``key``."""
    return f"{suket_id}.{key.kid}.{_mac(key.kid, key.secret, suket_id, number)}"


def _mac(kid: str, secret: bytes, suket_id: int, number: str) -> str:
    message = f"suket:{kid}:{suket_id}:{number}".encode()
    return _short(hmac.new(secret, message, hashlib.sha256).digest())


def _legacy_mac(suket_id: int, number: str) -> str:
    """The mac of a token printed before Suket keys: under the app's secret key."""
    key = str(current_app.config["SECRET_KEY"]).encode()
    return _short(hmac.new(key, f"suket:{suket_id}:{number}".encode(), hashlib.sha256).digest())


def _short(digest: bytes) -> str:
    return base64.urlsafe_b64encode(digest[:MAC_BYTES]).decode().rstrip("=")


#: What an unknown key id is checked against, so that it takes the time of a known one.
_NO_KEY = bytes(32)


def verify(token: str, *, today: dt.date | None = None) -> Verification | None:
    """What the token's Suket says today, or None for any token not issued by this office.

    Malformed, forged, altered and unknown tokens (and unknown key ids) are all just None: the
    caller cannot tell which (the mac is compared in constant time, and computed even when the
    id or the key id is unknown).
    """
    found = TOKEN.fullmatch(token or "")
    if found is None:
        return None
    suket_id, kid, mac = int(found.group(1)), found.group(2), found.group(3)
    row = db.session.execute(
        select(Suket, Enrollment.nik, Enrollment.payload)
        .join(Enrollment, Enrollment.id == Suket.enrollment_id).where(Suket.id == suket_id)
    ).first()
    db.session.commit()
    number = row[0].number if row else ""
    if kid is None:  # printed before Suket keys
        expected = _legacy_mac(suket_id, number)
    else:
        key = keyring.current().suket_keys.get(kid)
        expected = _mac(kid, key.secret if key else _NO_KEY, suket_id, number)
        if key is None:
            row = None
    if not hmac.compare_digest(expected, mac) or row is None:
        return None
    suket, nik, payload = row
    return Verification(
        status=status_of(suket, today or office_today()), number=suket.number,
        nama=mask_name(str(payload.get("nama") or "")), nik_last4=nik[-4:],
        issued_on=suket.issued_on, expires_on=suket.expires_on,
        superseded_on=office_today(suket.superseded_at) if suket.superseded_at else None)
