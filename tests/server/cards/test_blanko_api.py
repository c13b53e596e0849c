"""Stock, entries, queue and printing in the office JSON API; refusals write nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.support.office import token_for
from tests.support.server_app import assert_problem
from tests.support.suket import approved_record, counts

API = "/api/v1/office"
Push = Callable[..., Any]


def test_receive_print_spoil_and_stock(app: Flask, client: FlaskClient, push: Push,
                                       make_record: Callable[..., Any]) -> None:
    record_id = approved_record(app, push, make_record)
    boss = token_for(app, "sari", "supervisor")
    answer = client.post(f"{API}/blanko/entries", headers=boss, json={
        "kind": "received", "quantity": 2000, "reference": "470/1234/DUKCAPIL"})
    assert answer.status_code == 201, answer.json
    assert answer.json["balance"] == 2000 and answer.json["entry"]["kind"] == "received"
    queue = client.get(f"{API}/print/queue", headers=boss).json
    assert queue["total"] == 1 and queue["items"][0]["id"] == record_id
    priority = client.post(f"{API}/print/{record_id}/priority", headers=boss,
                           json={"reason": "lansia"})
    assert priority.status_code == 200 and priority.json["priority"] == "lansia"
    printed = client.post(f"{API}/print/{record_id}", headers=boss)
    assert printed.status_code == 201, printed.json
    job = printed.json["job"]
    assert (job["state"], job["record_id"], printed.json["balance"]) == (
        "printed", record_id, 1999)
    again = client.post(f"{API}/print/jobs/{job['id']}/spoil", headers=boss,
                        json={"reason": "foto bergaris"})
    assert again.status_code == 201 and again.json["job"]["reprint_of"] == job["id"]
    assert again.json["balance"] == 1998
    spoiled = client.post(f"{API}/blanko/entries", headers=boss, json={
        "kind": "spoiled", "quantity": 3, "reason": "tergores di gudang"})
    returned = client.post(f"{API}/blanko/entries", headers=boss, json={
        "kind": "returned", "quantity": 5, "reason": "ke Sanggau", "reference": "470/7"})
    assert (spoiled.status_code, returned.status_code) == (201, 201)
    stock = client.get(f"{API}/blanko?days=30", headers=boss).json
    assert stock["balance"] == 1990 and stock["forecast"]["queue"] == 0
    assert len(stock["usage"]) == 14 and stock["usage"][-1]["total"] == 5
    summary = client.get(f"{API}/blanko/summary", headers=boss).json
    assert (summary["received"], summary["used"], summary["misprinted"], summary["spoiled"],
            summary["returned"], summary["closing"]) == (2000, 2, 1, 3, 5, 1990)


@pytest.mark.parametrize("body, code", [
    ({"kind": "received", "quantity": -5, "reference": "470/1"}, "invalid_input"),
    ({"kind": "received", "quantity": 0, "reference": "470/1"}, "invalid_input"),
    ({"kind": "received", "quantity": 2.5, "reference": "470/1"}, "invalid_input"),
    ({"kind": "received", "quantity": "10", "reference": "470/1"}, "invalid_input"),
    ({"kind": "received", "quantity": 10**9, "reference": "470/1"}, "invalid_input"),
    ({"kind": "received", "quantity": 10}, "invalid_input"),
    ({"kind": "received", "quantity": 10, "reference": "470/1", "extra": 1}, "invalid_input"),
    ({"kind": "used", "quantity": 1}, "invalid_input"),
    ({"kind": "spoiled", "quantity": 1}, "invalid_input"),
    ({"kind": "spoiled", "quantity": 11, "reason": "rusak"}, "not_enough_stock"),
    ({"kind": "returned", "quantity": 11, "reason": "kembali"}, "not_enough_stock"),
    ({"kind": "spoiled", "quantity": 1, "reason": "x", "entry_date": "2026-01-01"},
     "invalid_input"),
])
def test_bad_entries_write_nothing(app: Flask, client: FlaskClient, body: dict[str, Any],
                                   code: str) -> None:
    boss = token_for(app, "sari", "supervisor")
    client.post(f"{API}/blanko/entries", headers=boss, json={
        "kind": "received", "quantity": 10, "reference": "470/1"})
    before = counts(app)
    answer = client.post(f"{API}/blanko/entries", headers=boss, json=body)
    assert_problem(answer, 409 if code == "not_enough_stock" else 400, code)
    assert counts(app) == before


def test_print_refusals_write_nothing(app: Flask, client: FlaskClient, push: Push,
                                      make_record: Callable[..., Any]) -> None:
    record_id = approved_record(app, push, make_record)
    rejected = approved_record(app, push, make_record, action="reject", serial=3)
    boss = token_for(app, "sari", "supervisor")
    viewer = token_for(app, "vina", "viewer")
    before = counts(app)
    body = assert_problem(client.post(f"{API}/print/{record_id}", headers=boss),
                          409, "out_of_stock")
    assert "habis" in body["detail"]
    client.post(f"{API}/blanko/entries", headers=boss, json={
        "kind": "received", "quantity": 1, "reference": "470/1"})
    before = counts(app)
    body = assert_problem(client.post(f"{API}/print/{rejected}", headers=boss),
                          409, "not_printable")
    assert "ditolak" in body["detail"]
    assert_problem(client.post(f"{API}/print/{record_id}", headers=viewer), 403, "forbidden")
    assert_problem(client.post(f"{API}/blanko/entries", headers=viewer, json={
        "kind": "received", "quantity": 1, "reference": "470/2"}), 403, "forbidden")
    assert_problem(client.post(f"{API}/print/nope", headers=boss), 404, "not_found")
    assert_problem(client.post(f"{API}/print/jobs/x9/spoil", headers=boss,
                               json={"reason": "x"}), 404, "not_found")
    assert_problem(client.post(f"{API}/print/jobs/999/spoil", headers=boss,
                               json={"reason": "x"}), 404, "not_found")
    assert_problem(client.get(f"{API}/print/queue?age_min=abc", headers=boss),
                   400, "invalid_input")
    assert_problem(client.get(f"{API}/print/queue?kecamatan=61", headers=boss),
                   400, "invalid_input")
    assert_problem(client.get(f"{API}/blanko?days=0", headers=boss), 400, "invalid_input")
    assert_problem(client.get(f"{API}/blanko/summary?date=kemarin", headers=boss),
                   400, "invalid_input")
    assert counts(app) == before
    # Viewers read.
    assert client.get(f"{API}/blanko", headers=viewer).status_code == 200
    assert client.get(f"{API}/print/queue", headers=viewer).status_code == 200
    assert client.post(f"{API}/print/{record_id}", headers=boss).status_code == 201
    body = assert_problem(client.post(f"{API}/print/{record_id}", headers=boss),
                          409, "not_printable")
    assert "sudah dicetak" in body["detail"]
