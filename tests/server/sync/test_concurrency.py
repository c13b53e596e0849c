"""Two pushes of the same batch at once, on separate connections: each record stored once."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from server.core.errors import ServiceUnavailable
from server.core.extensions import db
from server.core.models import Attachment, Change, Device, Enrollment
from server.sync import ingest
from tests.support.records import envelope, office_key
from tests.support.server_app import device_client

Seal = Callable[[Any], dict[str, Any]]


def test_same_batch_pushed_twice_at_once_is_stored_exactly_once(
    app: Flask, device: tuple[str, str], auth_headers: dict[str, str],
    make_record: Callable[..., dict[str, Any]], seal: Seal,
) -> None:
    records = [make_record() for _ in range(60)]
    items = [seal(record) for record in records]  # the very same sealed bytes, twice
    barrier = threading.Barrier(2)
    answers: list[Any] = []

    def push() -> None:
        client = device_client(app)  # its own request context, session and connection
        barrier.wait()
        answers.append(client.post("/api/v1/sync/push", json={"records": items},
                                   headers=auth_headers))

    threads = [threading.Thread(target=push) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [answer.status_code for answer in answers] == [200, 200]
    for index, record in enumerate(records):
        pair = sorted(answer.json["results"][index]["status"] for answer in answers)
        assert pair == ["accepted", "duplicate"], (index, pair)
        assert {a.json["results"][index]["id"] for a in answers} == {record["id"]}
    with app.app_context():
        def count(column: Any) -> int:
            return int(db.session.execute(select(func.count(column))).scalar_one())

        assert count(Enrollment.id) == 60
        assert count(func.distinct(Enrollment.id)) == 60
        assert count(Attachment.sha256) == 180
        assert count(Change.id) == 60
        stored = db.session.get(Device, device[0])
        assert stored is not None and (stored.last_seq, stored.received_count) == (60, 60)


def _stale_reads(monkeypatch: pytest.MonkeyPatch, stale_attempts: int) -> list[int]:
    """Make the first ``stale_attempts`` classifications miss what is already stored."""
    real = ingest.load_known
    calls: list[int] = []

    def load_known(device_id: str, raws: Any, **options: Any) -> Any:
        known = real(device_id, raws, **options)
        calls.append(1)
        if len(calls) <= stale_attempts:  # as if read just before a concurrent push committed
            known.stored.clear()
            known.seq_owner.clear()
        return known

    monkeypatch.setattr(ingest, "load_known", load_known)
    return calls


def _sealed_anew(app: Flask, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each record sealed again (new bytes): no replay known before opening, so every record
    goes through the classification the race is about."""
    key = office_key(app)
    return [envelope(record, key) for record in records]


def test_a_lost_race_is_retried_and_answered_as_duplicates(
    app: Flask, db: Any, device: tuple[str, str], make_record: Callable[..., dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    records = [make_record() for _ in range(3)]
    ingest.push(device[0], _sealed_anew(app, records))
    calls = _stale_reads(monkeypatch, stale_attempts=1)
    answer = ingest.push(device[0], _sealed_anew(app, [*records, make_record()]))
    assert [r["status"] for r in answer["results"]] == ["duplicate"] * 3 + ["accepted"]
    assert len(calls) == 2
    assert answer["device"] == {"last_seq": 4, "received": 4, "gaps": []}


def test_endless_races_end_in_a_retryable_503(
    app: Flask, db: Any, device: tuple[str, str], make_record: Callable[..., dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    records = [make_record()]
    ingest.push(device[0], _sealed_anew(app, records))
    _stale_reads(monkeypatch, stale_attempts=100)
    with pytest.raises(ServiceUnavailable):
        ingest.push(device[0], _sealed_anew(app, records))
    assert db.session.execute(select(func.count(Enrollment.id))).scalar_one() == 1


def test_the_plain_library_path_races_the_same_way(
    db: Any, device: tuple[str, str], make_record: Callable[..., dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    records = [make_record() for _ in range(2)]
    ingest.push_plain(device[0], records)
    calls = _stale_reads(monkeypatch, stale_attempts=1)
    answer = ingest.push_plain(device[0], [*records, make_record()])
    assert [r["status"] for r in answer["results"]] == ["duplicate"] * 2 + ["accepted"]
    assert len(calls) == 2
