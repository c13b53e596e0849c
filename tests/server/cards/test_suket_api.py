"""Suket in the office JSON API: issue, list, renew; every refusal writes nothing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from server.cards import suket
from server.core.extensions import db
from server.core.models import AuditEvent, Change, Suket
from server.core.timeutil import utcnow
from server.registry.wajib import add_months
from tests.support.office import token_for
from tests.support.server_app import assert_problem
from tests.support.suket import add_stock, approved_record, counts, fake_print_job

API = "/api/v1/office/suket"


def test_issue_list_renew(app: Flask, client: FlaskClient, push: Callable[..., Any],
                          make_record: Callable[..., Any]) -> None:
    first = approved_record(app, push, make_record)
    second = approved_record(app, push, make_record)
    boss = token_for(app, "sari", "supervisor")
    issued = client.post(API, headers=boss, json={"record_id": first})
    assert issued.status_code == 201, issued.json
    body = issued.json["suket"]
    today = suket.office_today()
    assert body["number"] == f"470/00001/SKT-DKPS/{today.year}"
    assert (body["issued_on"], body["expires_on"]) == (
        today.isoformat(), add_months(today, 6).isoformat())
    assert body["status"] == "valid" and body["waiting"] and body["record_state"] == \
        "suket_issued"
    assert body["verify_url"].startswith("http://localhost/verify/")
    again = client.post(API, headers=boss, json={"record_id": second, "on_request": True})
    assert again.json["suket"]["number"] == f"470/00002/SKT-DKPS/{today.year}"
    with app.app_context():  # the device sees the new state; the chain has the issue
        feed = db.session.execute(select(Change.record_id, Change.state)
                                  .where(Change.state == "suket_issued")).all()
        assert sorted(feed) == sorted([(first, "suket_issued"), (second, "suket_issued")])
        events = db.session.execute(select(AuditEvent).where(
            AuditEvent.action == "suket_issue")).scalars().all()
        assert {e.record_id for e in events} == {first, second}
        assert events[0].actor == "user:sari" and events[0].detail["number"].startswith("470/")
        db.session.commit()

    listed = client.get(API, headers=boss).json
    assert listed["status"] == "waiting" and listed["total"] == 2
    assert listed["counts"]["valid"] == 2 and listed["counts"]["superseded"] == 0
    assert listed["blanko_available"] == 0
    one = client.get(f"{API}/{body['id']}", headers=boss).json["suket"]
    assert one["number"] == body["number"]

    early = client.post(f"{API}/{body['id']}/renew", headers=boss, json={})
    assert_problem(early, 409, "renewal_not_due")  # six months to run: nothing to renew yet
    assert client.post(f"{API}/{body['id']}/renew", headers=boss, json={}).status_code == 409
    with app.app_context():
        stored = db.session.get(Suket, body["id"])
        assert stored is not None and stored.renewals == 0
        assert stored.expires_on == add_months(today, 6)
        stored.expires_on = today + dt.timedelta(days=10)  # about to run out
        db.session.commit()
    renewed = client.post(f"{API}/{body['id']}/renew", headers=boss, json={})
    assert renewed.status_code == 200, renewed.json
    assert renewed.json["suket"]["renewals"] == 1
    expected = add_months(today + dt.timedelta(days=10), 6).isoformat()
    assert renewed.json["suket"]["expires_on"] == expected
    again = client.post(f"{API}/{body['id']}/renew", headers=boss, json={})  # a double click
    assert_problem(again, 409, "renewal_not_due")

    with app.app_context():  # printing the first card supersedes its Suket
        suket.supersede_for_print(first, fake_print_job(app, first), utcnow())
        db.session.commit()
    after = client.get(f"{API}?status=superseded", headers=boss).json
    assert [item["enrollment_id"] for item in after["items"]] == [first]
    assert client.get(API, headers=boss).json["total"] == 1


def test_expiring_and_expired_lists(app: Flask, push: Callable[..., Any],
                                    make_record: Callable[..., Any]) -> None:
    from tests.support.suket import SUPERVISOR

    today = suket.office_today()
    old, soon, fresh = (approved_record(app, push, make_record) for _ in range(3))
    with app.app_context():
        suket.issue(old, SUPERVISOR, today=add_months(today, -7))
        suket.issue(soon, SUPERVISOR, today=add_months(today, -6) + dt.timedelta(days=10))
        suket.issue(fresh, SUPERVISOR)
        found = suket.listing("all")
        assert found.counts == {"valid": 2, "expiring": 1, "expired": 1, "superseded": 0,
                                "waiting": 3, "all": 3}
        assert [i.enrollment_id for i in suket.listing("expired").items] == [old]
        assert [i.enrollment_id for i in suket.listing("expiring").items] == [soon]
        # An expired Suket is renewed from today, not from its past expiry date.
        [expired] = suket.listing("expired").items
        assert suket.renew(expired.id, SUPERVISOR).expires_on == add_months(today, 6)


def _refused(app: Flask, client: FlaskClient, request: Callable[[], Any], status: int,
             code: str) -> dict[str, Any]:
    before = counts(app)
    problem = assert_problem(request(), status, code)
    assert counts(app) == before
    return problem


def test_refusals_write_nothing(app: Flask, client: FlaskClient, push: Callable[..., Any],
                                make_record: Callable[..., Any]) -> None:
    boss = token_for(app, "sari", "supervisor")
    rejected = approved_record(app, push, make_record, action="reject")
    problem = _refused(app, client, lambda: client.post(
        API, headers=boss, json={"record_id": rejected}), 409, "not_eligible")
    assert "ditolak" in problem["detail"]

    approved = approved_record(app, push, make_record)
    first = client.post(API, headers=boss, json={"record_id": approved}).json["suket"]
    problem = _refused(app, client, lambda: client.post(
        API, headers=boss, json={"record_id": approved, "on_request": True}), 409,
        "suket_exists")
    assert first["number"] in problem["detail"]

    _refused(app, client, lambda: client.post(API, headers=boss, json={
        "record_id": "00000000-0000-0000-0000-000000000000"}), 404, "not_found")
    for bad in ({}, {"record_id": ""}, {"record_id": 7}, {"record_id": "x" * 37},
                {"record_id": approved, "on_request": "yes"},
                {"record_id": approved, "extra": 1}):
        _refused(app, client, lambda bad=bad: client.post(API, headers=boss, json=bad),
                 400, "invalid_input")
    _refused(app, client, lambda: client.post(API, headers=boss, data="[]",
                                              content_type="application/json"),
             400, "invalid_input")
    for query in ("status=nope", "limit=0", "limit=abc", "offset=-1", "extra=1"):
        _refused(app, client, lambda query=query: client.get(f"{API}?{query}", headers=boss),
                 400, "invalid_input")
    for suket_id in ("999999", "abc", "0", "-1", "1e3", "9" * 30):
        _refused(app, client, lambda suket_id=suket_id: client.post(
            f"{API}/{suket_id}/renew", headers=boss, json={}), 404, "not_found")
        _refused(app, client, lambda suket_id=suket_id: client.get(
            f"{API}/{suket_id}", headers=boss), 404, "not_found")

    # Blanks arrive: no new Suket (unless asked for), no renewal.
    waiting = approved_record(app, push, make_record)
    add_stock(app, 3)
    problem = _refused(app, client, lambda: client.post(
        API, headers=boss, json={"record_id": waiting}), 409, "blanko_available")
    assert "3 blanko" in problem["detail"]
    _refused(app, client, lambda: client.post(f"{API}/{first['id']}/renew", headers=boss,
                                              json={}), 409, "blanko_available")
    assert client.post(API, headers=boss, json={"record_id": waiting, "on_request": True}
                       ).status_code == 201


@pytest.mark.parametrize("role", ["viewer", "reviewer"])
def test_viewer_and_reviewer_may_not_issue(app: Flask, client: FlaskClient, role: str,
                                           push: Callable[..., Any],
                                           make_record: Callable[..., Any]) -> None:
    record_id = approved_record(app, push, make_record)
    boss = token_for(app, "sari", "supervisor")
    made = client.post(API, headers=boss, json={"record_id": approved_record(
        app, push, make_record)}).json["suket"]
    headers = token_for(app, "rina", role)
    assert client.get(API, headers=headers).status_code == 200  # reading is fine
    _refused(app, client, lambda: client.post(API, headers=headers,
                                              json={"record_id": record_id}), 403, "forbidden")
    _refused(app, client, lambda: client.post(f"{API}/{made['id']}/renew", headers=headers,
                                              json={}), 403, "forbidden")
    _refused(app, client, lambda: client.get(API), 401, "unauthorized")


def test_renew_superseded_is_refused(app: Flask, client: FlaskClient,
                                     push: Callable[..., Any],
                                     make_record: Callable[..., Any]) -> None:
    record_id = approved_record(app, push, make_record)
    boss = token_for(app, "sari", "supervisor")
    made = client.post(API, headers=boss, json={"record_id": record_id}).json["suket"]
    with app.app_context():
        suket.supersede_for_print(record_id, fake_print_job(app, record_id), utcnow())
        db.session.commit()
    problem = _refused(app, client, lambda: client.post(
        f"{API}/{made['id']}/renew", headers=boss, json={}), 409, "suket_superseded")
    assert made["number"] in problem["detail"]
