"""The audit chain and ``jemput-server verify-audit``: any edit, deletion or reordering shows."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import delete, select, update

from server.core import audit
from server.core.extensions import db
from server.core.models import AuditEvent

COLUMNS = ("at", "actor", "action", "record_id", "case_id", "from_state", "to_state", "reason",
           "detail", "prev_hash", "hash")


@pytest.fixture
def chain(app: Flask) -> None:
    """Five events, appended in two transactions."""
    with app.app_context():
        audit.append([audit.Event(actor="user:alice", action="approve", record_id=f"r{i}",
                                  from_state="needs_review", to_state="approved")
                      for i in range(1, 4)])
        db.session.commit()
        audit.append([audit.Event(actor="system", action="case_cleared", case_id=7,
                                  reason="Semua rekaman kasus ini sudah diputuskan.",
                                  detail={"kind": "duplicate_nik"}),
                      audit.Event(actor="user:bob", action="reject", record_id="r4",
                                  reason="Foto buram")])
        db.session.commit()


def verify(runner: FlaskCliRunner) -> Any:
    return runner.invoke(args=["verify-audit"])


def tamper(app: Flask, statement: Any) -> None:
    """Change the log behind the application's back, as someone with database access could."""
    with app.app_context():
        db.session.execute(statement)
        db.session.commit()


def row(app: Flask, event_id: int) -> dict[str, Any]:
    with app.app_context():
        found = db.session.execute(
            select(*[getattr(AuditEvent, name) for name in COLUMNS])
            .where(AuditEvent.id == event_id)
        ).one()
        return dict(found._mapping)


def test_an_intact_chain_verifies(runner: FlaskCliRunner, chain: None) -> None:
    result = verify(runner)
    assert result.exit_code == 0, result.output
    assert "Peristiwa audit diperiksa: 5." in result.output
    assert "Rantai audit utuh." in result.output


def test_an_empty_log_verifies(runner: FlaskCliRunner) -> None:
    result = verify(runner)
    assert result.exit_code == 0
    assert "Peristiwa audit diperiksa: 0." in result.output


def test_an_edited_event_is_detected(app: Flask, runner: FlaskCliRunner, chain: None) -> None:
    tamper(app, update(AuditEvent).where(AuditEvent.id == 3).values(actor="user:mallory"))
    result = verify(runner)
    assert result.exit_code == 1
    assert "peristiwa 3: isi tidak cocok dengan hash-nya" in result.output
    assert "Rantai audit RUSAK: 1 masalah" in result.output


def test_an_edit_with_a_recomputed_hash_breaks_the_next_link(
    app: Flask, runner: FlaskCliRunner, chain: None
) -> None:
    old = row(app, 2)
    forged = audit.Event(actor=old["actor"], action=old["action"], record_id=old["record_id"],
                         from_state=old["from_state"], to_state="rejected")
    digest = audit.event_hash(old["prev_hash"], 2, old["at"], forged)
    tamper(app, update(AuditEvent).where(AuditEvent.id == 2)
           .values(to_state="rejected", hash=digest))
    result = verify(runner)
    assert result.exit_code == 1
    assert "peristiwa 3: prev_hash tidak menyambung" in result.output


def test_a_deleted_event_is_detected(app: Flask, runner: FlaskCliRunner, chain: None) -> None:
    tamper(app, delete(AuditEvent).where(AuditEvent.id == 3))
    result = verify(runner)
    assert result.exit_code == 1
    assert "peristiwa 3..3 hilang" in result.output
    assert "peristiwa 4: prev_hash tidak menyambung" in result.output


def test_deleting_the_newest_events_is_detected(
    app: Flask, runner: FlaskCliRunner, chain: None
) -> None:
    tamper(app, delete(AuditEvent).where(AuditEvent.id >= 4))
    result = verify(runner)
    assert result.exit_code == 1
    assert "ujung rantai tercatat 5, tetapi peristiwa terakhir 3" in result.output


def test_reordered_events_are_detected(app: Flask, runner: FlaskCliRunner, chain: None) -> None:
    second, fourth = row(app, 2), row(app, 4)
    tamper(app, update(AuditEvent).where(AuditEvent.id == 2).values(**fourth))
    tamper(app, update(AuditEvent).where(AuditEvent.id == 4).values(**second))
    result = verify(runner)
    assert result.exit_code == 1
    for problem in ("peristiwa 2: prev_hash tidak menyambung", "peristiwa 2: isi tidak cocok",
                    "peristiwa 4: isi tidak cocok"):
        assert problem in result.output


def test_events_written_by_the_services_verify(app: Flask, runner: FlaskCliRunner) -> None:
    with app.app_context():
        for index in range(3):
            audit.append([audit.Event(actor="system", action="checks", record_id=f"x{index}")])
            db.session.commit()
        assert audit.verify_chain().checked == 3
    assert verify(runner).exit_code == 0
