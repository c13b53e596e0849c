"""A new version of a record (``supersedes``): the old one is kept, linked and superseded."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from server.core import audit
from server.core.errors import NotFound
from server.core.extensions import db
from server.core.models import AuditEvent, Case, CaseRecord, Change, Enrollment
from server.core.timeutil import utcnow
from server.sync.ingest import versions
from server.sync.transitions import Move, move_records

Push = Callable[..., Any]
Make = Callable[..., dict[str, Any]]
REASON = "Nama tidak sesuai KK."


def set_state(app: Flask, record_id: str, state: str) -> None:
    """Move a record as the office would (state, feed, audit)."""
    with app.app_context():
        row = db.session.get(Enrollment, record_id)
        assert row is not None
        moved = move_records([Move(record_id, row.device_id, row.state, state, REASON)],
                             actor="user:tester", action=state)
        db.session.commit()
        assert moved


def state_of(app: Flask, record_id: str) -> str:
    with app.app_context():
        row = db.session.get(Enrollment, record_id)
        assert row is not None
        return row.state


def results(answer: Any) -> list[tuple[str, str | None]]:
    assert answer.status_code == 200, answer.json
    return [(r["status"], r.get("state") or (r.get("errors") or {}).get("code"))
            for r in answer.json["results"]]


def test_fix_supersedes_the_needs_fix_record_and_both_are_kept(
    app: Flask, push: Push, make_record: Make, device: tuple[str, str]
) -> None:
    old = make_record()
    push([old])
    set_state(app, old["id"], "needs_fix")
    fix = make_record(supersedes=old["id"])
    assert results(push([fix])) == [("accepted", "received")]
    with app.app_context():
        kept = db.session.get(Enrollment, old["id"])
        assert kept is not None and kept.state == "superseded"
        assert kept.state_reason == f"diganti oleh rekaman {fix['id']}"
        assert kept.payload == old["payload"]  # the old version is kept as it was
        feed = db.session.execute(
            select(Change.state, Change.reason).where(Change.record_id == old["id"])
            .order_by(Change.id)
        ).all()
        assert [tuple(row) for row in feed][-1] == ("superseded", kept.state_reason)
        [event] = db.session.execute(
            select(AuditEvent).where(AuditEvent.action == "supersede")).scalars()
        assert (event.actor, event.record_id, event.from_state, event.to_state) == (
            f"device:{device[0]}", old["id"], "needs_fix", "superseded")
        assert versions(old["id"]) == versions(fix["id"]) == [old["id"], fix["id"]]
        assert audit.verify_chain().ok


def test_versions_follow_a_chain_of_fixes(app: Flask, push: Push, make_record: Make) -> None:
    first = make_record()
    push([first])
    set_state(app, first["id"], "needs_fix")
    second = make_record(supersedes=first["id"])
    push([second])
    set_state(app, second["id"], "needs_fix")
    third = make_record(supersedes=second["id"])
    push([third])
    lone = make_record()
    push([lone])
    with app.app_context():
        chain = [first["id"], second["id"], third["id"]]
        assert versions(first["id"]) == versions(second["id"]) == versions(third["id"]) == chain
        assert versions(lone["id"]) == [lone["id"]]
    assert [state_of(app, i) for i in chain] == ["superseded", "superseded", "received"]


def test_a_record_replaced_in_the_same_batch_is_answered_superseded(
    app: Flask, push: Push, make_record: Make
) -> None:
    old = make_record(attachments=0)
    new = make_record(supersedes=old["id"])
    assert results(push([old, new])) == [("accepted", "superseded"), ("accepted", "received")]
    assert state_of(app, old["id"]) == "superseded"


def test_a_decided_record_keeps_its_decision(app: Flask, push: Push, make_record: Make) -> None:
    old = make_record()
    push([old])
    set_state(app, old["id"], "rejected")
    new = make_record(supersedes=old["id"])
    assert results(push([new])) == [("accepted", "received")]
    assert state_of(app, old["id"]) == "rejected"
    with app.app_context():
        assert versions(new["id"]) == [old["id"], new["id"]]


def test_a_second_version_of_a_replaced_record_is_refused_and_nothing_changes(
    app: Flask, push: Push, make_record: Make, row_counts: Callable[[], dict[str, int]]
) -> None:
    old = make_record()
    push([old])
    push([make_record(supersedes=old["id"])])
    before = row_counts()
    answer = push([make_record(supersedes=old["id"])])
    assert results(answer) == [("rejected", "conflict")]
    assert "sudah diganti" in answer.json["results"][0]["errors"]["message"]
    assert row_counts() == {**before, "rejected_push": before["rejected_push"] + 1}
    # Two versions of the same record in one batch: the second is refused the same way.
    other = make_record()
    push([other])
    answer = push([make_record(supersedes=other["id"]), make_record(supersedes=other["id"])])
    assert [status for status, _ in results(answer)] == ["accepted", "rejected"]


def test_another_devices_record_cannot_be_superseded(
    app: Flask, push: Push, make_record: Make, register: Callable[..., tuple[str, str]],
    row_counts: Callable[[], dict[str, int]],
) -> None:
    theirs = make_record()
    push([theirs])
    _, token = register("laptop-2", "TIM-2")
    before = row_counts()
    answer = push([make_record(seq=1, supersedes=theirs["id"])],
                  headers={"Authorization": f"Bearer {token}"})
    assert results(answer) == [("rejected", "unknown_supersedes")]
    assert "bukan rekaman perangkat ini" in answer.json["results"][0]["errors"]["message"]
    assert state_of(app, theirs["id"]) == "received"
    assert row_counts()["enrollment"] == before["enrollment"]
    assert row_counts()["change"] == before["change"]


def test_versions_of_an_unknown_record(db: Any) -> None:
    with pytest.raises(NotFound):
        versions("0193a4f2-7c1e-7d2a-9b1e-2f4c8a1d5e60")


def test_the_cases_of_a_replaced_record_are_closed(app: Flask, push: Push,
                                                   make_record: Make) -> None:
    old, other = make_record(), make_record()
    push([old, other])
    set_state(app, old["id"], "needs_fix")
    with app.app_context():
        for key, ids in (("alone", [old["id"]]), ("pair", [old["id"], other["id"]])):
            case = Case(kind="registry_mismatch", key=key, state="open", explanation="uji",
                        opened_at=utcnow(), version=1)
            db.session.add(case)
            db.session.flush()
            db.session.add_all(CaseRecord(case_id=case.id, enrollment_id=record_id,
                                          position=i) for i, record_id in enumerate(ids))
        db.session.commit()
    push([make_record(supersedes=old["id"])])
    with app.app_context():
        found = {case.key: case for case in db.session.execute(select(Case)).scalars()}
        assert (found["alone"].state, found["alone"].resolution,
                found["alone"].resolved_by) == ("resolved", "cleared", "system")
        assert found["pair"].state == "open"  # the other record still needs a decision
        assert audit.verify_chain().ok
