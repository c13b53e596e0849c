"""The print queue and printing: one card takes one blank, in the record's own transaction.

``print_card`` locks the stock head row first (``blanko.lock_stock``), so concurrent printers
take turns: the record's state and the balance are read under the lock, and the print job,
the ``used`` ledger entry, the record's move to ``printed`` (state, device feed, audit) and
the supersession of its Sukets commit together or not at all.

A misprint keeps the ``used`` entry of its blank (that card did go through the printer) and
its job becomes ``spoiled`` with the reason; the reprint is a new job with its own ``used``
entry. One physical card is one entry out of stock, never two: the misprints of a day are
counted from the spoiled jobs, and ``spoiled`` ledger entries are blanks damaged outside a
print (``blanko.spoil``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, case, delete, func, select

from server.accounts.actor import Actor
from server.cards import blanko, suket
from server.core import audit, paging
from server.core.errors import (
    AlreadySpoiled,
    Forbidden,
    InvalidInput,
    NotFound,
    NotPrintable,
    OutOfStock,
)
from server.core.extensions import db
from server.core.models import Enrollment, PrintJob, PrintPriority, Region
from server.core.models.blanko import MISPRINTED, PRINTED, USED
from server.core.models.region import KECAMATAN
from server.core.timeutil import as_utc, office_day_start, office_time, office_today, utcnow
from server.sync.transitions import Move, move_records
from shared.labels import state_label
from shared.protocol import ServerState

PRINTERS = frozenset({"supervisor", "admin"})
APPROVED, SUKET_ISSUED = ServerState.APPROVED.value, ServerState.SUKET_ISSUED.value
PRINTED_STATE = ServerState.PRINTED.value
PRINTABLE = (APPROVED, SUKET_ISSUED)
MAX_REASON, MAX_PRIORITY_REASON = 300, 120
KECAMATAN_CODE = 8  # "61.09.04"


@dataclass(frozen=True)
class QueueItem:
    """One record waiting for its card."""

    id: str
    nik: str
    nama: str
    tanggal_lahir: str
    age: int | None
    desa_kode: str
    desa_nama: str
    state: str
    approved_at: dt.datetime
    priority: str | None


@dataclass(frozen=True)
class QueuePage:
    """A page of the queue, the cursor of the next one, and the counts beside it."""

    items: list[QueueItem]
    total: int  # records the filters select
    waiting: int  # the whole queue
    priority: int
    suket_issued: int
    next_after: str | None


@dataclass(frozen=True)
class Filters:
    """What the office narrows the queue to."""

    kecamatan: str | None = None
    age_min: int | None = None
    age_max: int | None = None
    priority_only: bool = False


@dataclass(frozen=True)
class JobInfo:
    """A print job as the office sees it."""

    id: int
    enrollment_id: str
    nama: str
    nik: str
    state: str
    printed_at: dt.datetime
    actor: str
    reprint_of: int | None
    spoil_reason: str | None


# --- the queue ---------------------------------------------------------------------------

def queue(filters: Filters | None = None, *, after: str | None = None,
          limit: int = paging.DEFAULT_LIMIT, today: dt.date | None = None) -> QueuePage:
    """Approved and Suket-holding records: priority first, then Suket holders (approved when no
    blank was left, they have waited longest; their ``state_changed_at`` is the Suket's day),
    then the approved, oldest approval first. Keyset paged after the cursor ``after``."""
    filters = filters or Filters()
    today = today or blanko.office_today()
    limit = paging.limit_of(limit)
    conditions = _conditions(filters, today)
    rank = case((PrintPriority.enrollment_id.is_not(None), 0),
                (Enrollment.state == SUKET_ISSUED, 1), else_=2)
    order = (rank, Enrollment.state_changed_at, Enrollment.id)
    key = paging.parse_cursor(after, (int, dt.datetime, str))
    page_conditions = [*conditions, paging.after(order, key)] if key else conditions
    base = (select(Enrollment.id).outerjoin(PrintPriority,
                                             PrintPriority.enrollment_id == Enrollment.id)
            .where(*conditions))
    total = db.session.execute(select(func.count()).select_from(base.subquery())).scalar_one()
    rows = db.session.execute(
        select(Enrollment.id, Enrollment.nik, Enrollment.payload, Enrollment.desa_kode,
               Enrollment.state, Enrollment.state_changed_at, PrintPriority.reason, Region.nama,
               rank.label("rank"))
        .outerjoin(PrintPriority, PrintPriority.enrollment_id == Enrollment.id)
        .outerjoin(Region, Region.kode == Enrollment.desa_kode)
        .where(*page_conditions)
        .order_by(*order)
        .limit(limit + 1)
    ).all()
    counts = db.session.execute(
        select(func.count(), func.count(PrintPriority.enrollment_id),
               func.count().filter(Enrollment.state == SUKET_ISSUED))
        .select_from(Enrollment)
        .outerjoin(PrintPriority, PrintPriority.enrollment_id == Enrollment.id)
        .where(Enrollment.state.in_(PRINTABLE))
    ).one()
    db.session.commit()
    items = [QueueItem(id=row.id, nik=row.nik, nama=str(row.payload.get("nama", "")),
                       tanggal_lahir=str(row.payload.get("tanggal_lahir", "")),
                       age=_age(row.payload.get("tanggal_lahir"), today),
                       desa_kode=row.desa_kode, desa_nama=row.nama or row.desa_kode,
                       state=row.state, approved_at=row.state_changed_at, priority=row.reason)
             for row in rows[:limit]]
    last = rows[limit - 1] if len(rows) > limit else None
    return QueuePage(items=items, total=int(total), waiting=int(counts[0]),
                     priority=int(counts[1]), suket_issued=int(counts[2]),
                     next_after=paging.cursor(last.rank, as_utc(last.state_changed_at), last.id)
                     if last is not None else None)


def _conditions(filters: Filters, today: dt.date) -> list[Any]:
    conditions: list[Any] = [Enrollment.state.in_(PRINTABLE)]
    if filters.kecamatan:
        code = filters.kecamatan.strip()
        if len(code) != KECAMATAN_CODE or not code.replace(".", "").isdigit():
            raise InvalidInput(f"Kode kecamatan '{code}' tidak valid (contoh: 61.09.04).")
        conditions.append(Enrollment.desa_kode.startswith(code + "."))
    born = Enrollment.payload["tanggal_lahir"].as_string()
    for value in (filters.age_min, filters.age_max):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or not 0 <= value <= 150):
            raise InvalidInput("Umur harus bilangan bulat 0..150.")
    if (filters.age_min is not None and filters.age_max is not None
            and filters.age_min > filters.age_max):
        raise InvalidInput("Umur minimum lebih besar dari umur maksimum.")
    if filters.age_min is not None:  # born on or before today minus age_min years
        conditions.append(born <= _years_before(today, filters.age_min).isoformat())
    if filters.age_max is not None:  # born after today minus (age_max + 1) years
        conditions.append(born > _years_before(today, filters.age_max + 1).isoformat())
    if filters.priority_only:
        conditions.append(PrintPriority.enrollment_id.is_not(None))
    return conditions


def _years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def _age(born: Any, today: dt.date) -> int | None:
    try:
        birth = dt.date.fromisoformat(str(born))
    except ValueError:
        return None
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


# --- priority ----------------------------------------------------------------------------

def set_priority(record_id: str, reason: Any, *, actor: Actor) -> None:
    """Put a waiting record before the others (elderly, exam, ...); commit."""
    _require(actor, "menetapkan prioritas cetak")
    why = blanko.required_text(reason, "Alasan prioritas", MAX_PRIORITY_REASON)
    record = _record(record_id)
    if record.state not in PRINTABLE:
        db.session.rollback()
        word = state_label(record.state)
        raise NotPrintable(f"Rekaman berstatus '{word}': hanya rekaman yang menunggu cetak "
                           "yang bisa diprioritaskan.")
    row = db.session.get(PrintPriority, record_id)
    if row is None:
        db.session.add(PrintPriority(enrollment_id=record_id, reason=why,
                                     set_by=actor.audit_name, set_at=utcnow()))
    else:
        row.reason, row.set_by, row.set_at = why, actor.audit_name, utcnow()
    audit.append([audit.Event(actor=actor.audit_name, action="print_priority_set",
                              record_id=record_id, reason=why)])
    db.session.commit()


def clear_priority(record_id: str, *, actor: Actor) -> None:
    """Take a record's priority away; commit (404 when it had none)."""
    _require(actor, "menghapus prioritas cetak")
    done = db.session.execute(
        delete(PrintPriority).where(PrintPriority.enrollment_id == record_id)
    ).rowcount  # type: ignore[attr-defined]
    if not done:
        db.session.rollback()
        raise NotFound("Rekaman ini tidak berprioritas.")
    audit.append([audit.Event(actor=actor.audit_name, action="print_priority_cleared",
                              record_id=record_id)])
    db.session.commit()


# --- printing ----------------------------------------------------------------------------

def print_card(record_id: str, *, actor: Actor, at: dt.datetime | None = None) -> PrintJob:
    """Print the card of a waiting record: one blank, one job, one move; commit and return it.

    Refused, nothing written: not supervisor/admin (403), unknown record (404), a record not
    approved / Suket-issued (409 ``not_printable``, naming its state), no blank left (409
    ``out_of_stock``).
    """
    _require(actor, "mencetak KTP-el")
    try:
        job = _print(record_id, actor, at or utcnow(), reprint_of=None)
    except BaseException:
        db.session.rollback()
        raise
    db.session.commit()
    return job


def spoil_and_reprint(print_job_id: int, reason: Any, *, actor: Actor,
                      at: dt.datetime | None = None) -> PrintJob:
    """Record a misprint (the job -> spoiled, with reason) and print the card again; commit.

    The misprinted blank stays booked as ``used`` by its job; the reprint takes another blank
    (a new job, ``reprint_of`` the spoiled one, and its own ``used`` entry).
    """
    _require(actor, "mencatat salah cetak")
    why = blanko.required_text(reason, "Alasan salah cetak", MAX_REASON)
    at = at or utcnow()
    try:
        stock = blanko.lock_stock()
        job = db.session.get(PrintJob, print_job_id, with_for_update=True)
        if job is None:
            raise NotFound(f"Cetakan {print_job_id} tidak ada.")
        if job.state != PRINTED:
            raise AlreadySpoiled(f"Cetakan {print_job_id} sudah dicatat rusak "
                                 f"({job.spoil_reason}); cetak ulang dari cetakan terbaru.")
        if stock <= 0:
            raise OutOfStock("Stok blanko habis: salah cetak belum bisa dicetak ulang. "
                                    "Catat setelah blanko baru diterima.")
        job.state, job.spoil_reason = MISPRINTED, why
        audit.append([audit.Event(actor=actor.audit_name, action="print_spoiled",
                                  record_id=job.enrollment_id, reason=why,
                                  detail={"print_job_id": job.id})], at=at)
        new = _new_job(job.enrollment_id, actor, at, reprint_of=job.id)
        audit.append([audit.Event(actor=actor.audit_name, action="reprint",
                                  record_id=job.enrollment_id,
                                  detail={"print_job_id": new.id, "reprint_of": job.id})],
                     at=at)
    except BaseException:
        db.session.rollback()
        raise
    db.session.commit()
    return new


def _print(record_id: str, actor: Actor, at: dt.datetime, *,
           reprint_of: int | None) -> PrintJob:
    stock = blanko.lock_stock()  # every printer waits here: the rest is read under the lock
    record = _record(record_id)
    if record.state not in PRINTABLE:
        raise NotPrintable(_not_printable(record))
    if stock <= 0:
        raise OutOfStock("Stok blanko habis: tidak ada blanko untuk dicetak. Terbitkan "
                                "Suket atau catat penerimaan blanko baru.")
    job = _new_job(record_id, actor, at, reprint_of=reprint_of)
    moved = move_records([Move(record.id, record.device_id, record.state, PRINTED_STATE)],
                         actor=actor.audit_name, action="print",
                         detail={"print_job_id": job.id}, at=at)
    if not moved:
        raise NotPrintable("Status rekaman berubah saat dicetak; muat ulang dan coba lagi.")
    suket.supersede_for_print(record_id, job.id, at, actor=actor.audit_name)
    db.session.execute(delete(PrintPriority).where(PrintPriority.enrollment_id == record_id))
    return job


def _new_job(record_id: str, actor: Actor, at: dt.datetime, *,
             reprint_of: int | None) -> PrintJob:
    job = PrintJob(enrollment_id=record_id, state=PRINTED, printed_at=at,
                   actor=actor.audit_name, reprint_of=reprint_of)
    db.session.add(job)
    db.session.flush()
    blanko.add_entry(USED, 1, actor=actor.audit_name, entry_date=office_today(at),
                     print_job_id=job.id)
    return job


def _not_printable(record: Enrollment) -> str:
    if record.state == PRINTED_STATE:
        last = db.session.execute(
            select(func.max(PrintJob.printed_at)).where(PrintJob.enrollment_id == record.id)
        ).scalar_one()
        when = f" pada {office_time(last)}" if last else ""
        return (f"KTP-el rekaman ini sudah dicetak{when}. Salah cetak? Catat rusak dan cetak "
                "ulang dari daftar cetakan.")
    word = state_label(record.state)
    return (f"Rekaman berstatus '{word}': hanya rekaman yang disetujui (atau sudah diberi Suket) "
            "yang bisa dicetak.")


def _record(record_id: str) -> Enrollment:
    record = db.session.get(Enrollment, record_id)
    if record is None:
        db.session.rollback()
        raise NotFound(f"Rekaman {record_id} tidak ada.")
    return record


def _require(actor: Actor, doing: str) -> None:
    if actor.role not in PRINTERS:
        raise Forbidden(f"Hanya supervisor atau admin yang boleh {doing}.")


def kecamatan_choices() -> list[tuple[str, str]]:
    """Kecamatan (code, name) for the queue's filter."""
    rows = db.session.execute(select(Region.kode, Region.nama).where(Region.level == KECAMATAN)
                              .order_by(Region.kode)).all()
    db.session.commit()
    return [(row.kode, row.nama) for row in rows]


# --- what was printed ------------------------------------------------------------------------

def jobs_for_record(record_id: str) -> list[JobInfo]:
    """Every print job of one record, oldest first (the record page's print history)."""
    return _jobs(PrintJob.enrollment_id == record_id, PrintJob.id)


@dataclass(frozen=True)
class JobPage:
    """A page of an office day's print jobs (newest first) and the cursor of the next one."""

    items: list[JobInfo]
    total: int
    next_after: str | None


def jobs_on(day: dt.date | None = None, *, after: str | None = None,
            limit: int = paging.DEFAULT_LIMIT) -> JobPage:
    """Print jobs of an office day, newest first, keyset paged after job id ``after``."""
    day = day or blanko.office_today()
    limit = paging.limit_of(limit)
    start = office_day_start(day)
    on_day = and_(PrintJob.printed_at >= start, PrintJob.printed_at < start + dt.timedelta(days=1))
    key = paging.parse_cursor(after, (int,))
    condition = and_(on_day, PrintJob.id < key[0]) if key else on_day
    total = int(db.session.execute(
        select(func.count()).select_from(PrintJob).where(on_day)).scalar_one())
    items = _jobs(condition, PrintJob.id.desc(), limit + 1)
    more = len(items) > limit
    return JobPage(items[:limit], total, paging.cursor(items[limit - 1].id) if more else None)


def _jobs(condition: Any, order: Any, limit: int = 500) -> list[JobInfo]:
    rows = db.session.execute(
        select(PrintJob, Enrollment.nik, Enrollment.payload)
        .join(Enrollment, Enrollment.id == PrintJob.enrollment_id)
        .where(condition).order_by(order).limit(limit)
    ).all()
    db.session.commit()
    return [JobInfo(id=job.id, enrollment_id=job.enrollment_id, nik=nik,
                    nama=str(payload.get("nama", "")), state=job.state,
                    printed_at=job.printed_at, actor=job.actor, reprint_of=job.reprint_of,
                    spoil_reason=job.spoil_reason)
            for job, nik, payload in rows]
