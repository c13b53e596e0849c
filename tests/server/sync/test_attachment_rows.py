"""A push's rows (records, their attachments, the feed): one COPY each on PostgreSQL
(``bulk.copy_rows``), one executemany on SQLite, the same rows; a database error inside the COPY
is raised as SQLAlchemy raises it (the push decides again)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from server.core import bulk
from server.core.extensions import db
from server.core.models import Attachment, Change, Enrollment
from server.core.models.base import table_of
from server.sync import ingest

Push = Callable[..., Any]
Make = Callable[..., dict[str, Any]]


@pytest.mark.parametrize("copy_from", [1, 10_000])  # COPY (PostgreSQL), and INSERTs
def test_every_attachment_of_a_batch_is_stored_as_sent(
    app: Flask, push: Push, make_record: Make, copy_from: int, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(bulk, "COPY_FROM", copy_from)
    records = [make_record(attachments=14) for _ in range(3)] + [make_record(attachments=2)]
    answer = push(records)
    assert [r["status"] for r in answer.json["results"]] == ["accepted"] * 4
    with app.app_context():
        stored = {tuple(row) for row in db.session.execute(select(
            Attachment.enrollment_id, Attachment.role, Attachment.sha256, Attachment.size,
            Attachment.media_type))}
    assert stored == {(r["id"], a["role"], a["sha256"], a["size"], a["media_type"])
                      for r in records for a in r["attachments"]}


@pytest.mark.parametrize("copy_from", [1, 10_000])  # COPY (PostgreSQL), and INSERTs
def test_every_record_and_feed_row_of_a_batch_is_stored_as_sent(
    app: Flask, push: Push, make_record: Make, copy_from: int, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(bulk, "COPY_FROM", copy_from)
    # Quotes and punctuation in the JSON payload, as the COPY text stream carries them.
    records = [make_record(attachments=14, payload={"alamat": "JL. D'MERDEKA NO.5/B, (HULU)"}),
               make_record(attachments=14), make_record(attachments=2)]
    answer = push(records)
    assert [r["status"] for r in answer.json["results"]] == ["accepted"] * 3
    with app.app_context():
        stored = {row.id: row for row in db.session.execute(select(
            Enrollment.id, Enrollment.seq, Enrollment.nik, Enrollment.desa_kode,
            Enrollment.payload, Enrollment.exceptions, Enrollment.warnings,
            Enrollment.supersedes, Enrollment.record_sha256, Enrollment.sealed_sha256,
            Enrollment.state, Enrollment.captured_at))}
        feed = db.session.execute(select(Change.record_id, Change.state)).all()
    assert set(stored) == {r["id"] for r in records}
    for record, result in zip(records, answer.json["results"], strict=True):
        row = stored[record["id"]]
        assert (row.seq, row.nik, row.desa_kode) == (
            record["seq"], record["payload"]["nik"], record["payload"]["desa_kode"])
        assert row.payload == record["payload"] and row.exceptions == record["exceptions"]
        assert row.warnings == result["warnings"] and row.state == result["state"]
        assert row.record_sha256 == record["record_sha256"] and row.sealed_sha256
        assert row.supersedes is None
        assert row.captured_at.isoformat().replace("+00:00", "Z") == record["captured_at"]
    assert sorted(feed) == sorted((r["id"], a["state"])
                                  for r, a in zip(records, answer.json["results"], strict=True))


def test_a_copy_that_breaks_a_constraint_raises_an_integrity_error(
    app: Flask, push: Push, make_record: Make, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(bulk, "COPY_FROM", 1)
    record = make_record(attachments=2)
    push([record])
    first = record["attachments"][0]
    row = (record["id"], first["role"], first["sha256"], first["size"], first["media_type"])
    with app.app_context():
        with pytest.raises(IntegrityError):
            bulk.copy_rows(table_of(Attachment), ingest.ATTACHMENT_COLUMNS, [row])
        db.session.rollback()
        with pytest.raises(IntegrityError):  # no such enrollment (foreign key)
            bulk.copy_rows(table_of(Attachment), ingest.ATTACHMENT_COLUMNS,
                           [("0" * 36, "photo", "a" * 64, 1, "image/jpeg")])
        db.session.rollback()
        assert db.session.execute(select(Attachment.role).where(
            Attachment.enrollment_id == record["id"])).scalars().all()
