"""The review workflow: resolving cases, deciding records, bulk approval; roles and conflicts."""

from __future__ import annotations

import itertools
import threading
import uuid
from typing import Any

import pytest
from sqlalchemy import func, select

from server.accounts.actor import Actor
from server.core import audit
from server.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from server.core.extensions import db
from server.core.models import AuditEvent, Case, CaseRecord, Change, Enrollment
from server.core.timeutil import utcnow
from server.review.decisions import bulk_approve, decide_record, resolve_case
from tests.support.payloads import payload

ALICE = Actor("alice", "reviewer")
BOB = Actor("bob", "reviewer")
VIEWER = Actor("vera", "viewer")
BOSS = Actor("sari", "supervisor")
DESA, OTHER_DESA, OTHER_KECAMATAN_DESA = "61.09.04.2006", "61.09.04.2001", "61.09.05.2001"
_seq = itertools.count(1)


@pytest.fixture
def dev(db: Any, device: tuple[str, str]) -> str:
    """A registered device's id, inside an app context."""
    return device[0]


def add_record(device_id: str, state: str = "needs_review", desa: str = DESA) -> str:
    """An enrollment row written directly, in ``state``."""
    record_id, now, seq = str(uuid.uuid4()), utcnow(), next(_seq)
    db.session.add(Enrollment(
        id=record_id, device_id=device_id, seq=seq, type="enrollment", captured_at=now,
        operator="op.test", nik=f"61090457089{seq:05d}", desa_kode=desa,
        payload=payload(desa_kode=desa), exceptions=[], warnings=[], supersedes=None,
        record_sha256="0" * 64, state=state, received_at=now, state_changed_at=now))
    db.session.commit()
    return record_id


def add_case(kind: str, record_ids: list[str], device_id: str | None = None) -> int:
    """An open case naming ``record_ids``."""
    case = Case(kind=kind, key=f"{kind}:{uuid.uuid4()}", state="open", explanation="uji",
                desa_kode=DESA, team="TIM-1", device_id=device_id, opened_at=utcnow(),
                version=1)
    db.session.add(case)
    db.session.flush()
    for position, record_id in enumerate(record_ids):
        db.session.add(CaseRecord(case_id=case.id, enrollment_id=record_id, position=position))
    db.session.commit()
    return case.id


def state(record_id: str) -> tuple[str, str | None]:
    row = db.session.execute(select(Enrollment.state, Enrollment.state_reason)
                             .where(Enrollment.id == record_id)).one()
    return row.state, row.state_reason


def snapshot() -> tuple[Any, ...]:
    """Everything a decision writes: cases, record states, feed and audit chain."""
    cases = db.session.execute(select(
        Case.id, Case.state, Case.version, Case.resolution, Case.resolved_by,
        Case.resolution_reason).order_by(Case.id)).all()
    states = db.session.execute(select(Enrollment.id, Enrollment.state, Enrollment.state_reason)
                                .order_by(Enrollment.id)).all()
    feed = db.session.execute(select(func.count()).select_from(Change)).scalar_one()
    events = db.session.execute(select(func.count()).select_from(AuditEvent)).scalar_one()
    db.session.commit()
    return tuple(cases), tuple(states), feed, events


def events(action: str) -> list[AuditEvent]:
    return list(db.session.execute(select(AuditEvent).where(AuditEvent.action == action)
                                   .order_by(AuditEvent.id)).scalars())


def test_approve_moves_records_without_other_open_cases(dev: str) -> None:
    alone, busy = add_record(dev), add_record(dev)
    case_id = add_case("registry_mismatch", [alone, busy])
    other = add_case("outside_area", [busy])
    case = resolve_case(case_id, actor=ALICE, action="approve", version=1)
    assert (case.state, case.resolution, case.resolved_by, case.version) == (
        "resolved", "approved", "alice", 2)
    assert case.resolved_at is not None
    assert state(alone) == ("approved", None)
    assert state(busy) == ("needs_review", None)  # still waits for its other case
    assert db.session.get(Case, other).state == "open"  # type: ignore[union-attr]
    [resolved] = events("case_resolved")
    assert (resolved.actor, resolved.case_id) == ("user:alice", case_id)
    [approved] = events("approve")
    assert (approved.record_id, approved.case_id, approved.to_state) == (
        alone, case_id, "approved")
    feed = db.session.execute(select(Change.state).where(Change.record_id == alone)).scalars()
    assert list(feed) == ["approved"]
    assert audit.verify_chain().ok


def test_reject_and_needs_fix_need_a_reason_that_reaches_the_device(dev: str) -> None:
    first, second = add_record(dev), add_record(dev)
    reject_case = add_case("not_in_registry", [first])
    fix_case = add_case("registry_mismatch", [second])
    before = snapshot()
    for action in ("reject", "needs_fix"):
        with pytest.raises(InvalidInput, match="Alasan wajib"):
            resolve_case(reject_case, actor=ALICE, action=action, version=1, reason="   ")
    assert snapshot() == before
    resolve_case(reject_case, actor=ALICE, action="reject", version=1, reason="Bukan warga")
    resolve_case(fix_case, actor=ALICE, action="needs_fix", version=1,
                 reason="Tanggal lahir  salah,\nperiksa KK")
    assert state(first) == ("rejected", "Bukan warga")
    assert state(second) == ("needs_fix", "Tanggal lahir salah, periksa KK")
    feed = db.session.execute(select(Change.state, Change.reason)
                              .where(Change.record_id == second)).one()
    assert tuple(feed) == ("needs_fix", "Tanggal lahir salah, periksa KK")


def test_duplicate_marks_one_record_and_approves_the_other(dev: str) -> None:
    kept, copy, stranger = add_record(dev), add_record(dev), add_record(dev)
    case_id = add_case("duplicate_nik", [kept, copy])
    before = snapshot()
    with pytest.raises(InvalidInput, match="salah satu rekaman"):
        resolve_case(case_id, actor=ALICE, action="duplicate", version=1, duplicate_id=stranger)
    with pytest.raises(InvalidInput, match="duplicate_id"):
        resolve_case(case_id, actor=ALICE, action="duplicate", version=1)
    single = add_case("not_in_registry", [stranger])  # one record: a duplicate of nothing
    before = snapshot()
    with pytest.raises(InvalidInput, match="satu rekaman"):
        resolve_case(single, actor=ALICE, action="duplicate", version=1, duplicate_id=stranger)
    assert snapshot() == before
    case = resolve_case(case_id, actor=ALICE, action="duplicate", version=1, duplicate_id=copy)
    assert case.resolution == "duplicate"
    assert state(copy) == ("duplicate", f"duplikat dari {kept}")
    assert state(kept) == ("approved", None)
    assert state(stranger) == ("needs_review", None)


def test_sequence_gaps_are_only_acknowledged(dev: str) -> None:
    gap = add_case("sequence_gap", [], device_id=dev)
    record = add_record(dev)
    finding = add_case("not_in_registry", [record])
    before = snapshot()
    with pytest.raises(InvalidInput):
        resolve_case(gap, actor=ALICE, action="approve", version=1)
    with pytest.raises(InvalidInput):
        resolve_case(finding, actor=ALICE, action="acknowledge", version=1)
    with pytest.raises(InvalidInput, match="tidak dikenal"):
        resolve_case(finding, actor=ALICE, action="delete", version=1)
    assert snapshot() == before
    case = resolve_case(gap, actor=ALICE, action="acknowledge", version=1, reason="Laptop hilang")
    assert (case.resolution, case.resolution_reason) == ("acknowledged", "Laptop hilang")


def test_acting_on_a_case_someone_else_resolved_is_a_conflict_and_changes_nothing(
    dev: str,
) -> None:
    record = add_record(dev)
    case_id = add_case("registry_mismatch", [record])
    resolve_case(case_id, actor=ALICE, action="approve", version=1)  # both pages showed v1
    before = snapshot()
    with pytest.raises(Conflict) as caught:
        resolve_case(case_id, actor=BOB, action="reject", version=1, reason="Data palsu")
    detail = caught.value.detail
    assert "sudah diselesaikan oleh alice" in detail and "UTC" in detail
    assert caught.value.status == 409
    assert snapshot() == before  # no lost update: still approved by alice
    assert state(record) == ("approved", None)


def test_a_case_changed_since_the_page_was_opened_is_a_conflict(dev: str) -> None:
    record = add_record(dev)
    case_id = add_case("registry_mismatch", [record])
    db.session.get(Case, case_id).version = 2  # type: ignore[union-attr]  # checks refreshed it
    db.session.commit()
    before = snapshot()
    with pytest.raises(Conflict, match="sudah berubah"):
        resolve_case(case_id, actor=ALICE, action="approve", version=1)
    assert snapshot() == before
    resolve_case(case_id, actor=ALICE, action="approve", version=2)
    assert state(record)[0] == "approved"


@pytest.mark.parametrize("actor", [VIEWER, Actor("mallory", "operator")])
def test_a_viewer_cannot_decide_anything(dev: str, actor: Actor) -> None:
    record, verified = add_record(dev), add_record(dev, "verified")
    case_id = add_case("registry_mismatch", [record])
    before = snapshot()
    with pytest.raises(Forbidden) as caught:
        resolve_case(case_id, actor=actor, action="approve", version=1)
    assert caught.value.status == 403
    with pytest.raises(Forbidden):
        decide_record(verified, actor=actor, action="approve")
    with pytest.raises(Forbidden):
        bulk_approve(actor=actor, desa_kode=DESA)
    with pytest.raises(Forbidden):  # bulk approval is for supervisors
        bulk_approve(actor=ALICE, desa_kode=DESA)
    assert snapshot() == before


def test_unknown_case_and_record(dev: str) -> None:
    with pytest.raises(NotFound):
        resolve_case(999, actor=ALICE, action="approve", version=1)
    with pytest.raises(NotFound):
        decide_record("nope", actor=ALICE, action="approve")


def test_decided_records_are_left_alone_and_settled_cases_cleared(dev: str) -> None:
    done, open_ = add_record(dev, "approved"), add_record(dev)
    case_id = add_case("duplicate_nik", [done, open_])
    leftover = add_case("outside_area", [open_])  # only names the record about to be rejected
    resolve_case(case_id, actor=ALICE, action="reject", version=1, reason="Rekaman ganda")
    assert state(done) == ("approved", None)
    assert state(open_) == ("rejected", "Rekaman ganda")
    cleared = db.session.get(Case, leftover)
    assert cleared is not None
    assert (cleared.state, cleared.resolution, cleared.resolved_by) == (
        "resolved", "cleared", "system")
    assert [e.case_id for e in events("case_cleared")] == [leftover]
    assert audit.verify_chain().ok


def test_decide_record_from_the_record_page(dev: str) -> None:
    verified, reviewed, in_case = add_record(dev, "verified"), add_record(dev), add_record(dev)
    case_id = add_case("registry_mismatch", [in_case])
    approved = decide_record(verified, actor=ALICE, action="approve")
    assert approved.state == "approved"
    rejected = decide_record(reviewed, actor=ALICE, action="reject", reason="Foto buram")
    assert (rejected.state, rejected.state_reason) == ("rejected", "Foto buram")
    before = snapshot()
    with pytest.raises(Conflict, match=f"kasus terbuka \\({case_id}\\)"):
        decide_record(in_case, actor=ALICE, action="approve")
    with pytest.raises(Conflict, match="berstatus approved"):
        decide_record(verified, actor=BOB, action="reject", reason="Terlambat")
    with pytest.raises(InvalidInput):
        decide_record(in_case, actor=ALICE, action="reject")
    assert snapshot() == before


def test_bulk_approve_takes_every_verified_record_of_the_area(dev: str) -> None:
    here = [add_record(dev, "verified") for _ in range(3)]
    waiting = add_record(dev, "needs_review")
    neighbour = add_record(dev, "verified", desa=OTHER_DESA)
    far = add_record(dev, "verified", desa=OTHER_KECAMATAN_DESA)
    before = snapshot()
    with pytest.raises(InvalidInput):
        bulk_approve(actor=BOSS)
    with pytest.raises(InvalidInput):
        bulk_approve(actor=BOSS, desa_kode=DESA, kecamatan_kode="61.09.04")
    with pytest.raises(NotFound, match=r"desa 61\.09\.04\.2999"):
        bulk_approve(actor=BOSS, desa_kode="61.09.04.2999")
    with pytest.raises(NotFound, match="kecamatan"):
        bulk_approve(actor=BOSS, kecamatan_kode=DESA)
    assert snapshot() == before
    assert bulk_approve(actor=BOSS, desa_kode=DESA) == 3
    assert {state(i)[0] for i in here} == {"approved"}
    assert state(waiting)[0] == "needs_review"
    assert state(neighbour)[0] == "verified"
    assert bulk_approve(actor=Actor("root", "admin"), kecamatan_kode="61.09.04") == 1
    assert state(neighbour)[0] == "approved" and state(far)[0] == "verified"
    assert len(events("bulk_approve")) == 4
    assert audit.verify_chain().ok


def test_two_reviewers_at_once_one_wins_the_other_gets_a_conflict(app: Any, dev: str) -> None:
    record = add_record(dev)
    case_id = add_case("duplicate_nik", [record])
    barrier = threading.Barrier(2)
    outcomes: dict[str, str] = {}

    def act(actor: Actor, action: str, reason: str | None) -> None:
        with app.app_context():
            barrier.wait()
            try:
                resolve_case(case_id, actor=actor, action=action, version=1, reason=reason)
                outcomes[actor.username] = "ok"
            except Conflict as exc:
                outcomes[actor.username] = exc.detail

    threads = [threading.Thread(target=act, args=(ALICE, "approve", None)),
               threading.Thread(target=act, args=(BOB, "reject", "Palsu"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    [winner] = [name for name, outcome in outcomes.items() if outcome == "ok"]
    [loser] = [outcome for outcome in outcomes.values() if outcome != "ok"]
    assert f"sudah diselesaikan oleh {winner}" in loser
    case = db.session.get(Case, case_id, populate_existing=True)
    assert case is not None and (case.resolved_by, case.version) == (winner, 2)
    assert state(record)[0] == ("approved" if winner == "alice" else "rejected")
    assert len(events("case_resolved")) == 1
    assert audit.verify_chain().ok


def test_the_version_may_come_from_a_form_as_text(dev: str) -> None:
    record = add_record(dev)
    case_id = add_case("registry_mismatch", [record])
    before = snapshot()
    with pytest.raises(InvalidInput, match="Versi kasus"):
        resolve_case(case_id, actor=ALICE, action="approve", version="v1")  # type: ignore[arg-type]
    assert snapshot() == before
    resolve_case(case_id, actor=ALICE, action="approve", version="1")  # type: ignore[arg-type]
    assert state(record)[0] == "approved"
