"""The office's decisions: resolve a case, decide one record, approve a desa in bulk.

Every decision is one transaction: the case (claimed with its ``version``, so a reviewer
acting on a stale page gets a :class:`Conflict` instead of overwriting a colleague), the
records' moves (state, the device's feed and the audit chain, via ``move_records``), and the
case's own audit event. Decisions are serialised with check runs, so neither acts on a state
the other just changed.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Collection
from dataclasses import dataclass

from flask import Flask
from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError

from server.accounts.actor import Actor
from server.core import audit
from server.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from server.core.extensions import db
from server.core.models import Case, CaseRecord, Enrollment, Region
from server.core.models.base import table_of
from server.core.models.case import OPEN, RESOLVED
from server.core.models.region import DESA, KECAMATAN
from server.core.timeutil import as_utc, utcnow
from server.review import cases, checks
from server.sync.transitions import Move, move_records
from shared.protocol import CaseKind, CaseResolution, ServerState

log = logging.getLogger(__name__)

#: Kinds whose records may be the same person recorded twice.
DUPLICATE_KINDS = frozenset({CaseKind.DUPLICATE_NIK.value, CaseKind.SHARED_BIOMETRIC.value})
RESOLVERS = frozenset({"reviewer", "supervisor", "admin"})
BULK_APPROVERS = frozenset({"supervisor", "admin"})
MAX_REASON = 500
APPROVED, REJECTED = ServerState.APPROVED.value, ServerState.REJECTED.value
DUPLICATE, NEEDS_FIX = ServerState.DUPLICATE.value, ServerState.NEEDS_FIX.value
VERIFIED, NEEDS_REVIEW = ServerState.VERIFIED.value, ServerState.NEEDS_REVIEW.value
COMPLETE = ServerState.COMPLETE.value
#: What each action does to a case's records: the states it moves from, and to.
CASE_ACTIONS: dict[str, tuple[CaseResolution, frozenset[str], str | None]] = {
    "approve": (CaseResolution.APPROVED, frozenset({NEEDS_REVIEW, VERIFIED}), APPROVED),
    "reject": (CaseResolution.REJECTED,
               frozenset({COMPLETE, VERIFIED, NEEDS_REVIEW, NEEDS_FIX}), REJECTED),
    "needs_fix": (CaseResolution.NEEDS_FIX, frozenset({COMPLETE, VERIFIED, NEEDS_REVIEW}),
                  NEEDS_FIX),
    "duplicate": (CaseResolution.DUPLICATE, frozenset({NEEDS_REVIEW, VERIFIED}), APPROVED),
    "acknowledge": (CaseResolution.ACKNOWLEDGED, frozenset(), None),
}
#: Single-record decisions from the record page: action -> target state.
RECORD_ACTIONS = {"approve": APPROVED, "reject": REJECTED, "needs_fix": NEEDS_FIX}
NEEDS_REASON = frozenset({"reject", "needs_fix"})


@dataclass(frozen=True)
class _Named:
    """A record a case names, as it stands now."""

    id: str
    device_id: str
    state: str


def resolve_case(case_id: int, *, actor: Actor, action: str, version: int,
                 reason: str | None = None, duplicate_id: str | None = None) -> Case:
    """Resolve an open case seen at ``version``; move its records; commit and return it."""
    _require(actor, RESOLVERS, "menyelesaikan kasus")
    if action not in CASE_ACTIONS:
        raise InvalidInput(f"Tindakan '{action}' tidak dikenal untuk kasus.")
    reason = _reason(action, reason)
    version = _version(version)
    try:
        case = _open_case(case_id, version)
        _check_fits(case, action, duplicate_id)
        named = _named(case_id)
        if action == "duplicate" and duplicate_id not in {r.id for r in named}:
            raise InvalidInput("Rekaman duplikat harus salah satu rekaman kasus ini.")
        now = utcnow()
        _claim(case, actor, action, reason, now)
        # Lock order as everywhere: case rows, device rows (the moves), then the audit head.
        moved = _move_case_records(case, named, actor, action, reason, duplicate_id, now)
        audit.append([audit.Event(
            actor=actor.audit_name, action="case_resolved", case_id=case.id, reason=reason,
            detail={"kind": case.kind, "resolution": CASE_ACTIONS[action][0].value,
                    "duplicate_id": duplicate_id},
        )], at=now)
        _clear_settled({move.record_id for move in moved}, now)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return _get_case(case_id)


def decide_record(record_id: str, *, actor: Actor, action: str,
                  reason: str | None = None) -> Enrollment:
    """Approve, reject or send back one verified record (or needs_review without open case)."""
    _require(actor, RESOLVERS, "memutuskan rekaman")
    if action not in RECORD_ACTIONS:
        raise InvalidInput(f"Tindakan '{action}' tidak dikenal untuk rekaman.")
    reason = _reason(action, reason)
    try:
        checks.lock_run()
        record = _named_record(record_id)
        _check_decidable(record)
        move = Move(record.id, record.device_id, record.state, RECORD_ACTIONS[action], reason)
        now = utcnow()
        if not move_records([move], actor=actor.audit_name, action=action, at=now):
            raise Conflict(f"Rekaman {record_id} baru saja berubah; muat ulang halaman.")
        _clear_settled({record.id}, now)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    found = db.session.get(Enrollment, record_id)
    assert found is not None
    return found


def bulk_approve(*, actor: Actor, desa_kode: str | None = None,
                 kecamatan_kode: str | None = None) -> int:
    """Approve every verified record of one desa or kecamatan; commit; return how many."""
    _require(actor, BULK_APPROVERS, "menyetujui secara massal")
    if (desa_kode is None) == (kecamatan_kode is None):
        raise InvalidInput("Pilih tepat satu: kode desa atau kode kecamatan.")
    area = _area(desa_kode, kecamatan_kode)
    try:
        checks.lock_run()
        where = (Enrollment.desa_kode == area if desa_kode is not None
                 else Enrollment.desa_kode.startswith(area + "."))
        rows = db.session.execute(
            select(Enrollment.id, Enrollment.device_id)
            .where(where, Enrollment.state == VERIFIED)
        ).all()
        moves = [Move(row.id, row.device_id, VERIFIED, APPROVED) for row in rows]
        moved = move_records(moves, actor=actor.audit_name, action="bulk_approve",
                             detail={"area": area})
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return len(moved)


def clear_replaced(_app: Flask, record_ids: Collection[str]) -> None:
    """Receiver of ``records_replaced``: close the cases of records new versions replaced.

    After the push's commit, like the checks: the push holds device rows, a decision holds
    case rows first, and taking both in one transaction in different orders could deadlock.
    A failure is left to run-checks.
    """
    try:
        clear_settled(record_ids)
    except SQLAlchemyError:
        db.session.rollback()
        log.warning("Closing the cases of %d replaced records failed", len(record_ids))


def clear_settled(record_ids: Collection[str]) -> None:
    """Close (as the system) open cases naming ``record_ids`` whose records are all final; commit.

    For records decided outside a case (a new version superseded them on push).
    """
    if not record_ids:
        return
    try:
        checks.lock_run()
        _clear_settled(set(record_ids), utcnow())
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise


def _require(actor: Actor, roles: Collection[str], what: str) -> None:
    """Refuse an actor whose role may not do ``what``."""
    if actor.role not in roles:
        raise Forbidden(f"Peran '{actor.role}' tidak boleh {what}.")


def _reason(action: str, reason: str | None) -> str | None:
    """The reason, trimmed; required for reject and needs_fix, at most ``MAX_REASON`` chars."""
    text_ = " ".join((reason or "").split())
    if action in NEEDS_REASON and not text_:
        raise InvalidInput("Alasan wajib diisi untuk menolak atau mengembalikan rekaman.",
                           errors={"reason": ["wajib diisi"]})
    if len(text_) > MAX_REASON:
        raise InvalidInput(f"Alasan paling panjang {MAX_REASON} karakter.",
                           errors={"reason": [f"maksimal {MAX_REASON} karakter"]})
    return text_ or None


def _version(version: object) -> int:
    """The case version the page showed, as an int (forms send it as text)."""
    try:
        return int(str(version))
    except ValueError:
        raise InvalidInput("Versi kasus tidak valid; muat ulang halaman.",
                           errors={"version": ["harus bilangan bulat"]}) from None


def _open_case(case_id: int, version: int) -> Case:
    """The case, after taking the lock; NotFound, or Conflict when it is not as seen."""
    checks.lock_run()  # the lock check runs take: decisions never act on a run's stale reads
    case = db.session.get(Case, case_id, populate_existing=True)
    if case is None:
        raise NotFound(f"Kasus {case_id} tidak ditemukan.")
    if case.state != OPEN or case.version != version:
        raise Conflict(_conflict_detail(case))
    return case


def _conflict_detail(case: Case) -> str:
    """Who resolved the case and when, or that it changed since the page was opened."""
    if case.state == RESOLVED:
        when = as_utc(case.resolved_at).strftime("%Y-%m-%d %H:%M UTC") if case.resolved_at \
            else "waktu tidak tercatat"
        return (f"Kasus {case.id} sudah diselesaikan oleh {case.resolved_by} pada {when} "
                f"({case.resolution}). Keputusan Anda tidak disimpan.")
    return (f"Kasus {case.id} sudah berubah sejak halaman dibuka (versi {case.version}). "
            "Muat ulang halaman lalu putuskan lagi.")


def _check_fits(case: Case, action: str, duplicate_id: str | None) -> None:
    """Refuse an action that does not fit the case's kind."""
    gap = case.kind == CaseKind.SEQUENCE_GAP
    if gap != (action == "acknowledge"):
        raise InvalidInput("Celah nomor urut hanya bisa dicatat (acknowledge)." if gap
                           else "Hanya celah nomor urut yang bisa dicatat (acknowledge).")
    if (action == "duplicate") != (duplicate_id is not None):
        raise InvalidInput("duplicate_id wajib untuk tindakan duplikat, dan hanya untuk itu.")
    if action == "duplicate" and case.kind not in DUPLICATE_KINDS:
        raise InvalidInput("Hanya kasus NIK ganda atau biometrik sama yang bisa ditandai "
                           "duplikat; kasus ini menyangkut satu rekaman.")


def _named(case_id: int) -> list[_Named]:
    """The case's records in the finding's order, with their current state."""
    rows = db.session.execute(
        select(Enrollment.id, Enrollment.device_id, Enrollment.state)
        .join(CaseRecord, CaseRecord.enrollment_id == Enrollment.id)
        .where(CaseRecord.case_id == case_id).order_by(CaseRecord.position, Enrollment.id)
    )
    return [_Named(row.id, row.device_id, row.state) for row in rows]


def _claim(case: Case, actor: Actor, action: str, reason: str | None, now: dt.datetime) -> None:
    """Resolve the case only if still open at the version seen; else Conflict."""
    table = table_of(Case)
    done = db.session.execute(
        update(table)
        .where(table.c.id == case.id, table.c.state == OPEN, table.c.version == case.version)
        .values(state=RESOLVED, resolution=CASE_ACTIONS[action][0].value,
                resolution_reason=reason, resolved_by=actor.username, resolved_at=now,
                version=table.c.version + 1)
    ).rowcount  # type: ignore[attr-defined]
    if not done:
        db.session.rollback()
        raise Conflict(_conflict_detail(_get_case(case.id)))


def _move_case_records(case: Case, named: list[_Named], actor: Actor, action: str,
                       reason: str | None, duplicate_id: str | None,
                       now: dt.datetime) -> list[Move]:
    """Move the case's records as ``action`` says; return the moves that happened."""
    _, movable, target = CASE_ACTIONS[action]
    if target is None:
        return []
    others = cases.open_kinds([r.id for r in named]) if target == APPROVED else {}
    moves: list[Move] = []
    for record in named:
        if record.id == duplicate_id and record.state in movable | {NEEDS_FIX, COMPLETE}:
            other = next((r.id for r in named if r.id != duplicate_id), "")
            moves.append(Move(record.id, record.device_id, record.state, DUPLICATE,
                              f"duplikat dari {other}"))
        elif record.state in movable and not (target == APPROVED and record.id in others):
            moves.append(Move(record.id, record.device_id, record.state, target, reason))
    return move_records(moves, actor=actor.audit_name, action=action, case_id=case.id,
                        detail={"kind": case.kind}, at=now)


def _clear_settled(record_ids: set[str], now: dt.datetime) -> None:
    """Clear (as the system) other open cases all of whose records are now final."""
    if not record_ids:
        return
    candidates = cases.open_cases(record_ids, None)
    settled = [case for case in candidates.values()
               if case.records and not set(case.records.values()) - cases.TERMINAL]
    applied = cases.apply([], settled, now)
    audit.append(applied.events, at=now)


def _named_record(record_id: str) -> _Named:
    row = db.session.execute(
        select(Enrollment.id, Enrollment.device_id, Enrollment.state)
        .where(Enrollment.id == record_id)
    ).first()
    if row is None:
        raise NotFound(f"Rekaman {record_id} tidak ditemukan.")
    return _Named(row.id, row.device_id, row.state)


def _check_decidable(record: _Named) -> None:
    """Only a verified record, or needs_review with no open case, is decided on its own."""
    if record.state not in (VERIFIED, NEEDS_REVIEW):
        raise Conflict(f"Rekaman {record.id} berstatus {record.state}; hanya rekaman "
                       "terverifikasi atau perlu ditinjau yang bisa diputuskan di sini.")
    open_ids = db.session.execute(
        select(Case.id).join(CaseRecord, CaseRecord.case_id == Case.id)
        .where(CaseRecord.enrollment_id == record.id, Case.state == OPEN).order_by(Case.id)
    ).scalars().all()
    if open_ids:
        listed = ", ".join(str(i) for i in open_ids)
        raise Conflict(f"Rekaman {record.id} masih punya kasus terbuka ({listed}); "
                       "putuskan lewat kasusnya.")


def _area(desa_kode: str | None, kecamatan_kode: str | None) -> str:
    """The desa or kecamatan code, checked against the region table."""
    code, level = (desa_kode, DESA) if desa_kode is not None else (kecamatan_kode, KECAMATAN)
    assert code is not None
    code = code.strip()
    found = db.session.execute(
        select(Region.kode).where(Region.kode == code, Region.level == level)
    ).first()
    if found is None:
        name = "desa" if level == DESA else "kecamatan"
        raise NotFound(f"Kode {name} {code} tidak dikenal.")
    return code


def _get_case(case_id: int) -> Case:
    case = db.session.get(Case, case_id, populate_existing=True)
    assert case is not None
    db.session.commit()
    return case
