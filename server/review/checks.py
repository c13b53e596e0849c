"""Reconciliation checks: every complete record against the registry, the others and its device.

:func:`check` runs as a background job (:mod:`server.core.jobs`): ``check_records`` after
records become complete (over those records; the checks of many pushes taken as one run) and
``check_all`` from ``jemput-server run-checks`` or the office's button (over everything). It
loads the columns it needs in bulk (:mod:`check_data`), computes findings in memory
(:mod:`findings`), keeps one case per finding (:mod:`cases`) and moves records:
complete/verified with an open case -> ``needs_review``, complete without -> ``verified``,
needs_review whose cases all went -> ``verified``. One transaction; check runs are serialised,
so two never decide on stale reads.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from flask import Flask
from sqlalchemy import select, text, update
from sqlalchemy.exc import SQLAlchemyError

from server.core import audit
from server.core.errors import NotFound
from server.core.extensions import db
from server.core.jobs import queue, worker
from server.core.jobs.queue import Claimed
from server.core.jobs.runner import Progress
from server.core.models import AuditHead, Enrollment
from server.core.models.base import table_of
from server.core.timeutil import utcnow
from server.review import cases, check_data, findings
from server.review.check_data import Loaded
from server.review.findings import KIND_LABELS, Finding
from server.sync.transitions import Move, move_records
from shared.protocol import CaseKind, ServerState

log = logging.getLogger(__name__)

COMPLETE, VERIFIED = ServerState.COMPLETE.value, ServerState.VERIFIED.value
NEEDS_REVIEW = ServerState.NEEDS_REVIEW.value
#: Any constant: the PostgreSQL advisory lock that serialises check runs.
ADVISORY_LOCK = 0x4A454D50
#: Job kinds: the checks after a push or upload (many taken as one run), a requested run.
CHECK_RECORDS, CHECK_ALL = "check_records", "check_all"
#: A run's progress steps: locked, loaded, findings, cases, moved.
STEPS = 4
#: Queued check_records jobs one run takes together.
CHECK_BATCH = 200


@dataclass
class CheckReport:
    """What one run did."""

    checked: int = 0  # records in scope that were checked
    verified: int = 0  # records moved to verified
    needs_review: int = 0  # records moved to needs_review
    cases_opened: int = 0  # new cases and system-cleared ones that came back
    cases_cleared: int = 0
    seconds: float = 0.0


def check_completed(_app: Flask, record_ids: Collection[str], pushed_by: str | None = None
                    ) -> None:
    """Receiver of ``records_completed``: queue the checks of the records that just became
    complete (and of the pushing device's sequence gaps) as a job, then wake the runner.

    They are committed as complete already: a failure to queue must not turn the push or
    upload that completed them into an error. What is not queued stays complete until the
    next ``jemput-server run-checks``.
    """
    try:
        queue.enqueue(CHECK_RECORDS, {"record_ids": sorted(record_ids),
                                      "gap_devices": [pushed_by] if pushed_by else []})
        db.session.commit()
    except SQLAlchemyError as exc:
        db.session.rollback()
        log.warning("Checks of %d completed record(s) not queued: %s", len(record_ids),
                    type(exc).__name__)
        return
    worker.wake()


def run_checks(
    record_ids: Collection[str] | None = None, *, gap_devices: Collection[str] = ()
) -> CheckReport:
    """Check ``record_ids`` (and their partners), or every record when None; commit."""
    try:
        report = check(record_ids, gap_devices=gap_devices)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return report


def check(record_ids: Collection[str] | None = None, *, gap_devices: Collection[str] = (),
          progress: Callable[[int, int], None] | None = None) -> CheckReport:
    """:func:`run_checks` without the commit (the job runner commits with the job's "done").

    Sequence gaps change only when a push stores or refuses records: an incremental run
    looks at the gaps of ``gap_devices`` only (a full run at every device's).
    """
    started = time.perf_counter()
    collecting = gc.isenabled()
    gc.disable()  # a full run makes ~10**6 long-lived objects: cyclic GC passes only cost
    try:
        report = _run(record_ids, gap_devices, progress or _no_progress)
    finally:
        if collecting:
            gc.enable()
    report.seconds = time.perf_counter() - started
    return report


def _no_progress(_done: int, _total: int) -> None:
    return None


def check_records_job(jobs: Sequence[Claimed], _progress: Progress) -> dict[str, Any]:
    """Job ``check_records``: one check run over the records (and gaps) of every job taken."""
    record_ids = sorted({i for job in jobs for i in job.args.get("record_ids", [])})
    devices = sorted({d for job in jobs for d in job.args.get("gap_devices", [])})
    return asdict(check(record_ids, gap_devices=devices))


def check_all_job(jobs: Sequence[Claimed], progress: Progress) -> dict[str, Any]:
    """Job ``check_all``: every record (``run-checks`` without ``--record``, or the office's
    button), or the records the job names."""
    record_ids = jobs[0].args.get("record_ids")
    return asdict(check(record_ids or None, progress=progress))


def queue_run(record_ids: Collection[str] = (), created_by: str | None = None, *,
              wake: bool = True) -> int:
    """Queue a check run (of ``record_ids``, else of everything); commit; the job's id.

    ``wake=False``: the caller runs it itself (``run-checks`` runs it unless a worker took it).
    """
    job_id = queue.enqueue(CHECK_ALL, {"record_ids": sorted(record_ids)}, created_by=created_by)
    db.session.commit()
    if wake:
        worker.wake()
    return job_id


def require_known(record_ids: Collection[str]) -> None:
    """Raise :class:`NotFound` naming the ids no stored record has (for ``run-checks --record``)."""
    wanted = set(record_ids)
    known = set(db.session.execute(
        select(Enrollment.id).where(Enrollment.id.in_(sorted(wanted)))).scalars())
    db.session.commit()
    unknown = sorted(wanted - known)
    if unknown:
        raise NotFound(f"Rekaman tidak ditemukan: {', '.join(unknown[:10])}"
                       f"{' ...' if len(unknown) > 10 else ''}. Tidak ada yang diperiksa.")


def _run(record_ids: Collection[str] | None, gap_devices: Collection[str],
         progress: Callable[[int, int], None]) -> CheckReport:
    progress(0, STEPS)
    lock_run()
    now = utcnow()
    data = check_data.load(record_ids, gap_devices)
    progress(1, STEPS)
    found = _findings(data)
    progress(2, STEPS)
    keys = {finding.key for finding in found}
    related = None if data.full else set(data.rows) | set(record_ids or ())
    candidates = cases.open_cases(related, data.gaps.keys())
    to_clear = [case for case in candidates.values()
                if _settled(case) or (_evaluated(case, data) and case.key not in keys)]
    applied = cases.apply(found, to_clear, now)
    check_data.add_records(data, applied.records)  # partners of cleared cases, to decide
    moves = _moves(data, applied.records, candidates)
    progress(3, STEPS)
    moved = move_records(moves, actor=audit.SYSTEM, action="checks", at=now)
    audit.append(applied.events, at=now)
    progress(STEPS, STEPS)
    return CheckReport(
        checked=len(data.scope),
        verified=sum(move.to_state == VERIFIED for move in moved),
        needs_review=sum(move.to_state == NEEDS_REVIEW for move in moved),
        cases_opened=applied.opened + applied.reopened,
        cases_cleared=applied.cleared,
    )


def lock_run() -> None:
    """Serialise check runs: an advisory lock on PostgreSQL, the write lock on SQLite."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK})
    else:  # any write takes SQLite's one write lock; taken first, the reads stay current
        table = table_of(AuditHead)
        db.session.execute(update(table).where(table.c.id == audit.HEAD_ID)
                           .values(last_id=table.c.last_id))


def _findings(data: Loaded) -> list[Finding]:
    """Every finding about the run's scope."""
    found: list[Finding] = []
    for record_id in sorted(data.scope):
        row = data.rows[record_id]
        found.extend(findings.record_findings(
            row, data.registry.get(row.nik), data.devices.get(row.device_id), data.kecamatan))
    partners = [data.rows[i] for i in data.nik_partners]
    found.extend(findings.duplicate_findings(partners, data.scope, data.devices))
    found.extend(findings.shared_biometric_findings(data.files, data.rows, data.scope,
                                                    data.devices))
    for device_id, gaps in data.gaps.items():
        found.extend(findings.gap_findings(data.devices[device_id], gaps))
    unique = {finding.key: finding for finding in found}  # a pair seen from both sides
    return list(unique.values())


def _settled(case: cases.OpenCase) -> bool:
    """True when every record of the case reached a final state."""
    return bool(case.records) and not set(case.records.values()) - cases.TERMINAL


def _evaluated(case: cases.OpenCase, data: Loaded) -> bool:
    """True when this run computed everything that could still find ``case``."""
    if case.kind == CaseKind.SEQUENCE_GAP:
        return case.device_id in data.gaps
    if data.full:
        return True
    if case.kind == CaseKind.DUPLICATE_NIK:
        return not data.nik_partners.isdisjoint(case.records)
    return not data.scope.isdisjoint(case.records)


def _moves(data: Loaded, touched: set[str], candidates: dict[int, cases.OpenCase]) -> list[Move]:
    """Record moves after the cases changed: to needs_review or to verified."""
    states = {i: row.state for i, row in data.rows.items()}
    for case in candidates.values():
        states.update(case.records)
    deciding = sorted(i for i in data.scope | touched
                      if states.get(i) in check_data.SCOPE)
    kinds = cases.open_kinds(None if data.full else deciding)
    devices = {i: row.device_id for i, row in data.rows.items()}
    moves: list[Move] = []
    for record_id in deciding:
        state, open_kinds = states[record_id], kinds.get(record_id)
        if record_id not in devices:
            continue  # not loaded as live: nothing to decide
        if open_kinds and state in (COMPLETE, VERIFIED):
            reason = "Perlu ditinjau kantor: " + "; ".join(
                sorted(KIND_LABELS.get(kind, kind) for kind in open_kinds)) + "."
            moves.append(Move(record_id, devices[record_id], state, NEEDS_REVIEW, reason))
        elif not open_kinds and state in (COMPLETE, NEEDS_REVIEW):
            moves.append(Move(record_id, devices[record_id], state, VERIFIED))
    return moves
