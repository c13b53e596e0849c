"""Issuing at the same moment: distinct numbers, and one Suket per record."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from tests.support.office import token_for
from tests.support.suket import approved_record, counts

API = "/api/v1/office/suket"


def _at_once(app: Flask, bodies: list[dict[str, Any]], headers: dict[str, str]) -> list[Any]:
    barrier = threading.Barrier(len(bodies))
    answers: list[Any] = [None] * len(bodies)

    def post(index: int) -> None:
        client = app.test_client()  # its own request context, session and connection
        barrier.wait()
        answers[index] = client.post(API, json=bodies[index], headers=headers)

    threads = [threading.Thread(target=post, args=(i,)) for i in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def test_concurrent_issuers_get_distinct_numbers(app: Flask, client: FlaskClient,
                                                 push: Callable[..., Any],
                                                 make_record: Callable[..., Any]) -> None:
    ids = [approved_record(app, push, make_record) for _ in range(4)]
    boss = token_for(app, "sari", "supervisor")
    answers = _at_once(app, [{"record_id": record_id} for record_id in ids], boss)
    assert [a.status_code for a in answers] == [201] * 4, [a.json for a in answers]
    numbers = sorted(a.json["suket"]["number"].split("/")[1] for a in answers)
    assert numbers == ["00001", "00002", "00003", "00004"]


def test_same_record_twice_at_once_gets_one_suket(app: Flask, push: Callable[..., Any],
                                                  make_record: Callable[..., Any]) -> None:
    record_id = approved_record(app, push, make_record)
    boss = token_for(app, "sari", "supervisor")
    answers = _at_once(app, [{"record_id": record_id}] * 2, boss)
    assert sorted(a.status_code for a in answers) == [201, 409]
    assert len(counts(app)["suket_states"]) == 1
