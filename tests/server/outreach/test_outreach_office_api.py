"""Outreach in the office JSON API: ranking, planning, progress, closing; refusals write nothing."""

from __future__ import annotations

import datetime as dt

import pytest
from flask import Flask
from flask.testing import FlaskClient

from server.outreach import visits as outreach
from tests.support.office import token_for
from tests.support.outreach import outreach_rows, populate
from tests.support.records import DESA
from tests.support.server_app import assert_problem

API = "/api/v1/office/outreach"


def _future(days: int = 10) -> str:
    return (outreach.office_today() + dt.timedelta(days=days)).isoformat()


def test_plan_follow_and_close_a_visit(app: Flask, client: FlaskClient,
                                       device: tuple[str, str]) -> None:
    populate(app)
    boss = token_for(app, "sari", "supervisor")
    ranking = client.get(f"{API}/ranking?kecamatan=61.09.04&at=2026-12-01", headers=boss)
    assert ranking.status_code == 200
    assert ranking.json["at"] == "2026-12-01"
    top = ranking.json["desa"][0]
    assert (top["desa_kode"], top["not_recorded"], top["last_visit"]) == (DESA, 4, None)
    created = client.post(f"{API}/visits", headers=boss, json={
        "desa_kode": DESA, "visit_date": _future(), "team": "TIM-1", "device_id": device[0],
        "days": 2})
    assert created.status_code == 201, created.json
    visit = created.json["visit"]
    assert visit["target_count"] == 4 and visit["state"] == "planned" and visit["days"] == 2
    listed = client.get(f"{API}/visits?state=planned", headers=boss).json["visits"]
    assert [v["id"] for v in listed] == [visit["id"]]
    detail = client.get(f"{API}/visits/{visit['id']}", headers=boss).json
    assert (detail["done"], detail["percent"], len(detail["targets"])) == (0, 0.0, 4)
    closed = client.post(f"{API}/visits/{visit['id']}/close", headers=boss, json={})
    assert closed.status_code == 200 and closed.json["visit"]["state"] == "closed"
    assert client.get(f"{API}/visits?state=planned", headers=boss).json["visits"] == []
    assert_problem(client.post(f"{API}/visits/{visit['id']}/close", headers=boss,
                               json={"cancel": True}), 409, "conflict")


def test_viewer_and_reviewer_may_look_but_not_plan(app: Flask, client: FlaskClient,
                                                   device: tuple[str, str]) -> None:
    populate(app)
    viewer = token_for(app, "vera", "viewer")
    assert client.get(f"{API}/ranking", headers=viewer).status_code == 200
    before = outreach_rows(app)
    answer = client.post(f"{API}/visits", headers=viewer, json={
        "desa_kode": DESA, "visit_date": _future(), "team": "TIM-1", "device_id": device[0]})
    assert_problem(answer, 403, "forbidden")
    assert outreach_rows(app) == before
    assert_problem(client.get(f"{API}/ranking"), 401, "unauthorized")


@pytest.mark.parametrize(("body", "field"), [
    ({"desa_kode": "61.09.99.9999"}, "desa_kode"),
    ({"visit_date": "2020-01-01"}, "visit_date"),
    ({"visit_date": "11-01-2027"}, "visit_date"),
    ({"visit_date": "2027-02-30"}, "visit_date"),
    ({"days": "2"}, "days"),
    ({"days": 30}, "days"),
    ({"device_id": "nope"}, "device_id"),
    ({"team": None}, "team"),
    ({"extra": 1}, "extra"),
])
def test_bad_visit_requests(app: Flask, client: FlaskClient, device: tuple[str, str],
                            body: dict[str, object], field: str) -> None:
    populate(app)
    boss = token_for(app, "sari", "supervisor")
    request = {"desa_kode": DESA, "visit_date": _future(), "team": "TIM-1",
               "device_id": device[0], **body}
    before = outreach_rows(app)
    problem = assert_problem(client.post(f"{API}/visits", headers=boss, json=request),
                             400, "invalid_input")
    assert field in problem["errors"]
    assert outreach_rows(app) == before


def test_bad_json_and_queries(app: Flask, client: FlaskClient, device: tuple[str, str]) -> None:
    populate(app)
    boss = token_for(app, "sari", "supervisor")
    before = outreach_rows(app)
    for data in ("{not json", "[1, 2]", ""):
        answer = client.post(f"{API}/visits", headers={**boss, "Content-Type":
                                                       "application/json"}, data=data)
        assert_problem(answer, 400, "invalid_input")
    assert_problem(client.get(f"{API}/ranking?at=kemarin", headers=boss), 400, "invalid_input")
    assert_problem(client.get(f"{API}/ranking?kecamatan=61.09.99", headers=boss),
                   404, "not_found")
    assert_problem(client.get(f"{API}/ranking?kecamatan=x%27--", headers=boss),
                   400, "invalid_input")
    assert_problem(client.get(f"{API}/visits?state=open", headers=boss), 400, "invalid_input")
    assert_problem(client.get(f"{API}/visits/nope", headers=boss), 404, "not_found")
    assert_problem(client.post(f"{API}/visits/nope/close", headers=boss, json={}),
                   404, "not_found")
    created = client.post(f"{API}/visits", headers=boss, json={
        "desa_kode": DESA, "visit_date": _future(), "team": "TIM-1", "device_id": device[0]})
    visit_id = created.json["visit"]["id"]
    before = outreach_rows(app)
    assert_problem(client.post(f"{API}/visits/{visit_id}/close", headers=boss,
                               json={"cancel": "yes"}), 400, "invalid_input")
    assert_problem(client.post(f"{API}/visits/{visit_id}/close", headers=boss,
                               data="x", content_type="application/json"), 400, "invalid_input")
    assert outreach_rows(app) == before
