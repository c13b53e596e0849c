"""``GET /api/v1/sync/pull``: a device's own feed, paged by cursor."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from server.core.extensions import db
from server.core.models import Enrollment
from tests.support.records import add_residents
from tests.support.server_app import assert_problem

PULL = "/api/v1/sync/pull"


def test_pull_pages_through_the_feed_by_cursor(
    app: Flask, client: FlaskClient, push: Callable[..., Any],
    make_record: Callable[..., dict[str, Any]], auth_headers: dict[str, str],
) -> None:
    records = [make_record(attachments=0) for _ in range(5)]
    add_residents(app, *records)
    push(records)  # complete on arrival; the checks' "verified" is no feed entry (the device
    # shows complete either way): five changes
    seen: list[dict[str, Any]] = []
    cursor, pages = 0, 0
    while True:
        page = client.get(f"{PULL}?since={cursor}&limit=2", headers=auth_headers).json
        seen += page["changes"]
        pages += 1
        assert page["cursor"] >= cursor
        cursor = page["cursor"]
        if not page["more"]:
            break
    assert pages == 3
    assert [c["record_id"] for c in seen] == [r["id"] for r in records]
    assert {(c["kind"], c["state"]) for c in seen} == {("record_status", "complete")}
    with app.app_context():
        states = {r["id"]: db.session.get(Enrollment, r["id"]).state  # type: ignore[union-attr]
                  for r in records}
    assert set(states.values()) == {"verified"}
    assert all(c["at"].endswith("Z") for c in seen)
    cursors = [c["cursor"] for c in seen]
    assert cursors == sorted(cursors) and cursor == cursors[-1]
    empty = client.get(f"{PULL}?since={cursor}", headers=auth_headers).json
    assert empty == {"changes": [], "cursor": cursor, "more": False}


def test_pull_shows_only_the_device_own_changes(
    client: FlaskClient, push: Callable[..., Any], make_record: Callable[..., dict[str, Any]],
    register: Callable[..., tuple[str, str]], auth_headers: dict[str, str],
) -> None:
    mine = make_record()
    push([mine])
    _, other_token = register("laptop-2")
    other_headers = {"Authorization": f"Bearer {other_token}"}
    theirs = make_record(seq=1)
    push([theirs], headers=other_headers)
    assert [c["record_id"] for c in client.get(PULL, headers=auth_headers).json["changes"]] == [
        mine["id"]]
    assert [c["record_id"] for c in client.get(PULL, headers=other_headers).json["changes"]] == [
        theirs["id"]]


@pytest.mark.parametrize(
    "query", ["since=-1", "since=abc", "limit=0", "limit=501", "since=1&unknown=2"]
)
def test_bad_query_is_400(client: FlaskClient, auth_headers: dict[str, str], query: str) -> None:
    answer = client.get(f"{PULL}?{query}", headers=auth_headers)
    assert assert_problem(answer, 400, "invalid_input")["errors"]
