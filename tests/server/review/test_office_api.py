"""Office JSON API (/api/v1/office): user tokens, every page as JSON, refusals change nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from tests.support.office import duplicate_case, make_user, snapshot, token_for
from tests.support.records import add_residents
from tests.support.server_app import assert_problem

API = "/api/v1/office"


def test_user_token_command(app: Flask, client: FlaskClient, runner: FlaskCliRunner) -> None:
    make_user(app, "rina", "reviewer")
    result = runner.invoke(args=["user-token", "rina"])
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1].strip()
    answer = client.get(f"{API}/dashboard", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200
    again = runner.invoke(args=["user-token", "rina"])  # a new token replaces the old one
    assert again.exit_code == 0
    old = client.get(f"{API}/dashboard", headers={"Authorization": f"Bearer {token}"})
    assert_problem(old, 401, "unauthorized")
    missing = runner.invoke(args=["user-token", "nobody"])
    assert missing.exit_code != 0 and "tidak ada" in missing.output


def test_api_needs_a_user_token(app: Flask, client: FlaskClient,
                                auth_headers: dict[str, str]) -> None:
    assert_problem(client.get(f"{API}/cases"), 401, "unauthorized")
    # A device token is not a user token.
    assert_problem(client.get(f"{API}/cases", headers=auth_headers), 401, "unauthorized")


def test_session_cookie_is_not_enough(app: Flask, client: FlaskClient) -> None:
    from tests.support.office import login

    login(client, app, "rina", "reviewer")
    assert_problem(client.get(f"{API}/dashboard"), 401, "unauthorized")


def test_pages_as_json(app: Flask, client: FlaskClient, push: Callable[..., Any],
                       make_record: Callable[..., dict[str, Any]]) -> None:
    case_id, ids = duplicate_case(app, push, make_record, add_residents)
    headers = token_for(app, "vera", "viewer")
    board = client.get(f"{API}/dashboard", headers=headers).json
    assert board["open_by_kind"]["duplicate_nik"] == 1
    assert board["received_today"] == 2
    cases = client.get(f"{API}/cases?kind=duplicate_nik", headers=headers).json
    assert [c["id"] for c in cases["items"]] == [case_id] and cases["next_after"] is None
    case = client.get(f"{API}/cases/{case_id}", headers=headers).json
    assert {r["id"] for r in case["records"]} == set(ids)
    record = client.get(f"{API}/records/{ids[0]}", headers=headers).json
    assert record["in_registry"] is True and record["record"]["id"] == ids[0]
    assert {f["name"] for f in record["fields"]} >= {"nik", "nama"}
    listed = client.get(f"{API}/records?state=needs_review&limit=1", headers=headers).json
    assert len(listed["items"]) == 1 and listed["next_after"] is not None
    rest = client.get(f"{API}/records?state=needs_review&after={listed['next_after']}",
                      headers=headers).json
    assert {listed["items"][0]["id"], rest["items"][0]["id"]} == set(ids)
    csv = client.get(f"{API}/records?format=csv", headers=headers)
    assert csv.mimetype == "text/csv" and ids[0] in csv.get_data(as_text=True)
    assert_problem(client.get(f"{API}/cases/999999", headers=headers), 404, "not_found")
    assert_problem(client.get(f"{API}/cases?kind=nope", headers=headers), 400, "invalid_input")


def test_resolve_and_conflict(app: Flask, client: FlaskClient, push: Callable[..., Any],
                              make_record: Callable[..., dict[str, Any]]) -> None:
    case_id, ids = duplicate_case(app, push, make_record, add_residents)
    headers = token_for(app, "rina", "reviewer")
    viewer = token_for(app, "vera", "viewer")
    before = snapshot(app)
    refused = client.post(f"{API}/cases/{case_id}/resolve", headers=viewer,
                          json={"action": "approve", "version": 1})
    assert_problem(refused, 403, "forbidden")
    no_reason = client.post(f"{API}/cases/{case_id}/resolve", headers=headers,
                            json={"action": "reject", "version": 1})
    assert_problem(no_reason, 400, "invalid_input")
    for bad in ({"action": "reject", "version": 1, "reason": 5},
                {"action": "approve", "version": "satu"}, {"action": ["approve"], "version": 1},
                {"action": "duplicate", "version": 1, "duplicate_id": "not-in-case"}):
        assert_problem(client.post(f"{API}/cases/{case_id}/resolve", headers=headers,
                                   json=bad), 400, "invalid_input")
    assert snapshot(app) == before
    done = client.post(f"{API}/cases/{case_id}/resolve", headers=headers,
                       json={"action": "duplicate", "version": 1, "duplicate_id": ids[0]})
    assert done.status_code == 200, done.json
    assert done.json["case"]["resolution"] == "duplicate"
    after = snapshot(app)
    stale = client.post(f"{API}/cases/{case_id}/resolve", headers=headers,
                        json={"action": "approve", "version": 1})
    assert "rina" in assert_problem(stale, 409, "conflict")["detail"]
    assert snapshot(app) == after


def test_bulk_and_decide(app: Flask, client: FlaskClient, push: Callable[..., Any],
                         make_record: Callable[..., dict[str, Any]]) -> None:
    one, two = make_record(attachments=0, serial=3), make_record(attachments=0, serial=4)
    add_residents(app, one, two)
    push([one, two])
    reviewer, supervisor = token_for(app, "rina", "reviewer"), token_for(app, "sari", "supervisor")
    before = snapshot(app)
    refused = client.post(f"{API}/records/bulk-approve", headers=reviewer,
                          json={"desa_kode": "61.09.04.2006"})
    assert_problem(refused, 403, "forbidden")
    assert snapshot(app) == before
    sent_back = client.post(f"{API}/records/{one['id']}/decide", headers=reviewer,
                            json={"action": "needs_fix", "reason": "Foto buram"})
    assert sent_back.json["record"]["state"] == "needs_fix"
    bulk = client.post(f"{API}/records/bulk-approve", headers=supervisor,
                       json={"desa_kode": "61.09.04.2006"})
    assert bulk.json == {"approved": 1}
    states = snapshot(app)["records"]
    assert states == {one["id"]: "needs_fix", two["id"]: "approved"}
    assert_problem(client.post(f"{API}/records/bulk-approve", headers=supervisor, data="x"),
                   400, "invalid_input")


def test_odd_numbers_and_filters_are_clear_errors(app: Flask, client: FlaskClient) -> None:
    headers = token_for(app, "vera", "viewer")
    for query in ("after=%C2%B2", "limit=%C2%B2", "after=99999999999999999999999"):
        assert_problem(client.get(f"{API}/cases?{query}", headers=headers), 400, "invalid_input")
    assert_problem(client.get(f"{API}/cases/%C2%B2", headers=headers), 404, "not_found")
    # A CSV export refuses a bad filter before it starts streaming (a 400, not a cut 200).
    for path in ("cases?format=csv&state=bogus", "records?format=csv&state=zz"):
        assert_problem(client.get(f"{API}/{path}", headers=headers), 400, "invalid_input")
