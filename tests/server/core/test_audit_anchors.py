"""Audit anchors: a rewrite of the database alone is caught against anchors kept outside it.

Whoever can write the database can recompute the whole chain and its head, and the chain then
verifies on its own; the anchors (the head signed with the office's audit key, stored as objects
of the blob store, never overwritten) do not follow, and ``verify-audit`` says so.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from nacl.signing import SigningKey
from sqlalchemy import delete, select, update

from server.core import anchors, audit, keyring
from server.core.blobstore import blob_store
from server.core.extensions import db
from server.core.models import AuditEvent, AuditHead
from server.core.models.audit import GENESIS_HASH
from shared.canonical import canonical_json
from shared.sealing import b64


def append(app: Flask, count: int, start: int = 1) -> None:
    with app.app_context():
        audit.append([audit.Event(actor="user:alice", action="approve", record_id=f"r{i}",
                                  from_state="needs_review", to_state="approved")
                      for i in range(start, start + count)])
        db.session.commit()


def rewrite(app: Flask, event_id: int, **changes: Any) -> None:
    """What someone with write access to the database alone can do: edit an event and compute
    every hash after it, and the head, again, so the chain verifies on its own."""
    with app.app_context():
        rows = db.session.execute(select(AuditEvent).order_by(AuditEvent.id)).scalars().all()
        prev = GENESIS_HASH
        for row in rows:
            if row.id == event_id:
                for name, value in changes.items():
                    setattr(row, name, value)
            event = audit.Event(row.actor, row.action, row.record_id, row.case_id,
                                row.from_state, row.to_state, row.reason, row.detail)
            row.prev_hash, row.hash = prev, audit.event_hash(prev, row.id, row.at, event)
            prev = row.hash
        db.session.execute(update(AuditHead).values(last_id=rows[-1].id, last_hash=prev))
        db.session.commit()


def test_a_rewrite_of_the_database_alone_is_caught_by_the_anchors(
    app: Flask, runner: FlaskCliRunner
) -> None:
    append(app, 3)
    made = runner.invoke(args=["audit-anchor"])
    assert made.exit_code == 0, made.output
    assert "Jangkar audit" in made.output and "peristiwa #3" in made.output
    append(app, 2, start=4)
    assert runner.invoke(args=["verify-audit"]).exit_code == 0
    rewrite(app, 2, actor="user:mallory")
    with app.app_context():
        assert audit.verify_chain().ok  # the chain alone cannot tell
    result = runner.invoke(args=["verify-audit"])
    assert result.exit_code == 1, result.output
    assert "peristiwa 3: hash berbeda dengan jangkar bertanda tangan" in result.output


def test_an_anchored_event_deleted_with_the_head_fixed_is_caught(
    app: Flask, runner: FlaskCliRunner
) -> None:
    append(app, 4)
    assert runner.invoke(args=["audit-anchor"]).exit_code == 0
    with app.app_context():
        db.session.execute(delete(AuditEvent).where(AuditEvent.id == 4))
        third = db.session.execute(select(AuditEvent.hash).where(AuditEvent.id == 3)).scalar()
        db.session.execute(update(AuditHead).values(last_id=3, last_hash=third))
        db.session.commit()
        assert audit.verify_chain().ok
    result = runner.invoke(args=["verify-audit"])
    assert result.exit_code == 1 and "peristiwa 4 yang dijangkarkan tidak ada lagi" in result.output


def test_a_forged_anchor_does_not_count(app: Flask, runner: FlaskCliRunner) -> None:
    append(app, 2)
    with app.app_context():
        kid = keyring.current().audit.kid  # type: ignore[union-attr]
        statement = {"format": anchors.FORMAT, "last_id": 2, "last_hash": "0" * 64,
                     "at": "2026-12-06T10:00:00Z", "kid": kid}
        forged = SigningKey.generate().sign(canonical_json(statement)).signature
        blob_store().put_anchor("20261206T100000Z-000002.json", json.dumps(
            {**statement, "signature": b64(bytes(forged))}).encode())
    result = runner.invoke(args=["verify-audit"])
    assert result.exit_code == 1
    assert "tanda tangan tidak sah" in result.output
    assert "Jangkar bertanda tangan yang sah: 0." in result.output


def test_anchors_are_new_objects_never_overwritten(app: Flask) -> None:
    append(app, 1)
    with app.app_context():
        first, second = anchors.make(), anchors.make()
        assert first.name != second.name
        store = blob_store()
        before = dict(store.anchors())
        assert not store.put_anchor(first.name, b"{}")  # the same name: refused
        assert dict(store.anchors()) == before
        verified = anchors.verify()
    assert verified.report.ok and verified.anchors == 2


def test_the_daily_blanko_summary_prints_a_new_anchor(app: Flask, runner: FlaskCliRunner) -> None:
    append(app, 2)
    printed = runner.invoke(args=["blanko-summary"])
    assert printed.exit_code == 0, printed.output
    assert "Jangkar audit: peristiwa #2" in printed.output
    as_json = json.loads(runner.invoke(args=["blanko-summary", "--json"]).output)
    assert as_json["audit_anchor"]["last_id"] == 2 and "closing" in as_json
    with app.app_context():
        assert len(list(blob_store().anchors())) == 2


def test_a_key_ring_from_before_anchors_gets_an_audit_key_and_keeps_its_keys(
    app: Flask, tmp_path: Any
) -> None:
    with app.app_context():
        ring = keyring.current()
    old = ring.document()
    old.pop("audit"), old.pop("audit_current")
    path = tmp_path / "old-keyring.json"
    path.write_text(json.dumps(old))
    upgraded, made = keyring.ensure(path)
    assert not made and upgraded.audit is not None
    assert upgraded.keys == ring.keys and upgraded.current == ring.current
    assert keyring.ensure(path)[0].audit == upgraded.audit  # made once


@pytest.mark.parametrize("text", [b"not json", b'{"format": "x"}'])
def test_an_unreadable_anchor_is_reported(app: Flask, runner: FlaskCliRunner, text: bytes) -> None:
    with app.app_context():
        blob_store().put_anchor("20261206T100000Z-000000.json", text)
    result = runner.invoke(args=["verify-audit"])
    assert result.exit_code == 1 and "jangkar 20261206T100000Z-000000.json" in result.output
