"""Device tokens unused too long expire: they may still push their queue, and nothing else.

A laptop left in a drawer for months still delivers what it captured (push and uploads), but
its token no longer reads the profile (the operators' key wraps), the feed or target lists;
registered again, the rest of its queue is accepted without a gap.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update

from server.core.extensions import db
from server.core.models import Device
from tests.support.records import OfficeKey
from tests.support.server_app import assert_problem
from tests.support.uploads import create, path_of, seal_file

Push = Callable[..., Any]
Make = Callable[..., dict[str, Any]]


def idle(app: Flask, device_id: str, days: float) -> None:
    """The device was last seen ``days`` ago."""
    with app.app_context():
        moment = dt.datetime.now(dt.UTC) - dt.timedelta(days=days)
        db.session.execute(update(Device).where(Device.id == device_id)
                           .values(last_seen_at=moment, created_at=moment))
        db.session.commit()


def test_an_expired_token_reads_nothing_but_still_delivers_its_queue(
    app: Flask, client: FlaskClient, device: tuple[str, str], auth_headers: dict[str, str],
    push: Push, make_record: Make, sealing_key: OfficeKey,
) -> None:
    idle(app, device[0], 91)
    for path in ("/api/v1/sync/pull?since=0", "/api/v1/device/profile"):
        problem = assert_problem(client.get(path, headers=auth_headers), 401, "token_expired")
        assert "daftarkan laptop lagi" in problem["detail"]
    answer = push([make_record(seq=1), make_record(seq=2)])
    assert [r["status"] for r in answer.json["results"]] == ["accepted", "accepted"]
    upload = create(client, auth_headers, seal_file(sealing_key, b"x" * 3000))
    assert upload.status_code == 201 and path_of(upload)
    # Pushing does not make the token young again: reading stays closed.
    assert_problem(client.get("/api/v1/sync/pull?since=0", headers=auth_headers), 401,
                   "token_expired")


def test_a_token_in_use_stays_and_the_limit_is_configurable(
    app: Flask, client: FlaskClient, device: tuple[str, str], auth_headers: dict[str, str],
) -> None:
    idle(app, device[0], 89)
    assert client.get("/api/v1/sync/pull?since=0", headers=auth_headers).status_code == 200
    idle(app, device[0], 89)  # seen again just now: 89 more days from here
    app.config["JEMPUT_DEVICE_TOKEN_IDLE_DAYS"] = 30
    assert_problem(client.get("/api/v1/sync/pull?since=0", headers=auth_headers), 401,
                   "token_expired")


def test_registered_again_the_rest_of_the_queue_is_accepted_without_a_gap(
    app: Flask, client: FlaskClient, device: tuple[str, str], push: Push, make_record: Make,
    new_code: Callable[..., str],
) -> None:
    idle(app, device[0], 120)
    first = push([make_record(seq=1), make_record(seq=2)])
    assert [r["status"] for r in first.json["results"]] == ["accepted", "accepted"]
    answer = client.post("/api/v1/devices", json={
        "code": new_code(), "name": "laptop-1", "first_seq": 3})
    assert answer.status_code == 201, answer.json
    again = {"Authorization": f"Bearer {answer.json['token']}"}
    rest = push([make_record(seq=3), make_record(seq=4)], headers=again)
    assert [r["status"] for r in rest.json["results"]] == ["accepted", "accepted"]
    assert rest.json["device"]["gaps"] == []
    assert client.get("/api/v1/sync/pull?since=0", headers=again).status_code == 200


@pytest.mark.parametrize("days", [0, 45])
def test_a_fresh_registration_is_not_expired(
    app: Flask, client: FlaskClient, device: tuple[str, str], auth_headers: dict[str, str],
    days: int,
) -> None:
    idle(app, device[0], days)
    assert client.get("/api/v1/device/profile", headers=auth_headers).status_code == 200
