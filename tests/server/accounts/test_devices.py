"""Device registration with one-time codes, and bearer-token authentication."""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from server.accounts import devices
from server.core.extensions import db
from server.core.models import Device, RegistrationCode
from server.core.timeutil import utcnow
from server.core.tokens import hash_token
from tests.support.server_app import assert_problem, device_client

REGISTER = "/api/v1/devices"
PULL = "/api/v1/sync/pull"
NewCode = Callable[..., str]


def test_register_with_a_good_code(app: Flask, client: FlaskClient, new_code: NewCode) -> None:
    code = new_code("TIM-NANGA-MAHAP")
    assert re.fullmatch(r"[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}", code)
    answer = client.post(REGISTER, json={"code": code, "name": "laptop mahap 1"})
    assert answer.status_code == 201
    body = answer.json
    assert body["team"] == "TIM-NANGA-MAHAP"
    assert body["name"] == "laptop mahap 1"
    assert body["protocol_version"] == 2
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", body["server_time"])
    assert len(body["token"]) >= 43
    with app.app_context():
        device = db.session.get(Device, body["device_id"])
        assert device is not None
        assert device.token_hash == hash_token(body["token"])  # stored only as a hash
        assert body["token"] not in (device.token_hash, device.name)
        spent = db.session.execute(select(RegistrationCode)).scalar_one()
        assert spent.used_at is not None and spent.device_id == device.id
    assert client.get(PULL, headers={"Authorization": f"Bearer {body['token']}"}).status_code == 200


def test_code_is_read_case_and_dash_insensitively(client: FlaskClient, new_code: NewCode) -> None:
    typed = " " + new_code().lower().replace("-", " ") + " "
    assert client.post(REGISTER, json={"code": typed}).status_code == 201


def test_reused_code_is_refused(client: FlaskClient, new_code: NewCode) -> None:
    code = new_code()
    assert client.post(REGISTER, json={"code": code, "name": "a"}).status_code == 201
    assert_problem(client.post(REGISTER, json={"code": code, "name": "b"}), 409,
                   "registration_code_used")


def test_expired_code_is_refused(app: Flask, client: FlaskClient, new_code: NewCode) -> None:
    code = new_code()
    with app.app_context():
        db.session.execute(
            update(RegistrationCode).values(expires_at=utcnow() - dt.timedelta(minutes=1))
        )
        db.session.commit()
    assert_problem(client.post(REGISTER, json={"code": code}), 410, "registration_code_expired")


def test_unknown_code_is_refused(client: FlaskClient, new_code: NewCode) -> None:
    new_code()
    assert_problem(client.post(REGISTER, json={"code": "AAAA-BBBB-CCCC"}), 400,
                   "registration_code_invalid")


@pytest.mark.parametrize("body", [{}, {"code": "ab"}, {"code": 5}, {"code": "ABCD-EFGH", "x": 1},
                                  {"code": "ABCD-EFGH", "first_seq": 0},
                                  {"code": "ABCD-EFGH", "first_seq": "7"}])
def test_bad_registration_body_is_400(client: FlaskClient, body: dict[str, Any]) -> None:
    assert_problem(client.post(REGISTER, json=body), 400, "invalid_input")


def test_concurrent_use_of_one_code_registers_exactly_one_device(
    app: Flask, new_code: NewCode
) -> None:
    code = new_code()
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def register() -> None:
        client = device_client(app)
        barrier.wait()
        statuses.append(client.post(REGISTER, json={"code": code}).status_code)

    threads = [threading.Thread(target=register) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [201, 409]
    with app.app_context():
        assert len(db.session.execute(select(Device)).scalars().all()) == 1


def test_code_options_are_checked(db: Any) -> None:
    with pytest.raises(Exception, match="Nama tim"):
        devices.create_registration_code("   ")
    with pytest.raises(Exception, match="lebih dari nol"):
        devices.create_registration_code("T", ttl=dt.timedelta(0))


@pytest.mark.parametrize(
    ("header", "error"),
    [
        (None, None),
        ("Bearer", "invalid_request"),
        ("Basic dXNlcjpwYXNz", "invalid_request"),
        ("Bearer short", "invalid_request"),
        ("Bearer " + "A" * 43, "invalid_token"),
    ],
    ids=["missing", "empty", "basic", "malformed", "unknown"],
)
def test_bad_tokens_are_401_with_a_challenge(
    client: FlaskClient, device: tuple[str, str], header: str | None, error: str | None
) -> None:
    headers = {"Authorization": header} if header else {}
    for answer in (client.get(PULL, headers=headers),
                   client.post("/api/v1/sync/push", json={"records": [{}]}, headers=headers)):
        assert_problem(answer, 401, "unauthorized")
        challenge = answer.headers["WWW-Authenticate"]
        assert challenge.startswith("Bearer")
        assert (f'error="{error}"' in challenge) if error else "error=" not in challenge


def test_revoked_token_is_401(
    app: Flask, client: FlaskClient, device: tuple[str, str], auth_headers: dict[str, str]
) -> None:
    assert client.get(PULL, headers=auth_headers).status_code == 200
    with app.app_context():
        devices.revoke_device(device[0])
        devices.revoke_device(device[0])  # twice is harmless
    answer = client.get(PULL, headers=auth_headers)
    assert "dicabut" in assert_problem(answer, 401, "unauthorized")["detail"]


def test_last_seen_is_updated_at_most_once_a_minute(
    app: Flask, client: FlaskClient, device: tuple[str, str], auth_headers: dict[str, str]
) -> None:
    def last_seen() -> dt.datetime | None:
        with app.app_context():
            return db.session.execute(
                select(Device.last_seen_at).where(Device.id == device[0])
            ).scalar_one()

    assert last_seen() is None
    client.get(PULL, headers=auth_headers)
    first = last_seen()
    assert first is not None and first.tzinfo is not None
    client.get(PULL, headers=auth_headers)
    assert last_seen() == first
    with app.app_context():
        db.session.execute(update(Device).values(last_seen_at=first - dt.timedelta(minutes=2)))
        db.session.commit()
    client.get(PULL, headers=auth_headers)
    later = last_seen()
    assert later is not None and later >= first


def test_a_device_registered_again_counts_gaps_from_its_first_seq(
    client: FlaskClient, new_code: NewCode, make_record: Callable[..., dict[str, Any]],
    seal: Callable[[Any], dict[str, Any]],
) -> None:
    answer = client.post(REGISTER, json={"code": new_code(), "name": "lagi", "first_seq": 5})
    assert answer.status_code == 201
    headers = {"Authorization": f"Bearer {answer.json['token']}"}
    pushed = client.post("/api/v1/sync/push", headers=headers,
                         json={"records": [seal(make_record(5)), seal(make_record(7))]})
    # seq 1-4 went out under the earlier registration; only 6 is lost for this one.
    assert pushed.json["device"] == {"last_seq": 7, "received": 2, "gaps": [[6, 6]]}
    late = client.post("/api/v1/sync/push", headers=headers,
                       json={"records": [seal(make_record(3)), seal(make_record(6))]})
    assert [r["status"] for r in late.json["results"]] == ["accepted", "accepted"]
    assert late.json["device"]["gaps"] == []
