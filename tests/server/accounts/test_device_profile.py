"""``GET /api/v1/device/profile``: the team's active operators and the device's desa, by ETag."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from server.accounts import devices, operators
from server.core.extensions import db
from server.core.models import Region
from server.core.models.region import DESA
from server.outreach import visits
from shared.canonical import canonical_json
from shared.pin import verify_pin
from shared.protocol import PROBLEM_MEDIA_TYPE
from shared.schemas import DeviceProfileSchema
from tests.support.outreach import PLANNER, plan

URL = "/api/v1/device/profile"
KECAMATAN = "61.09.04"  # Nanga Mahap
ELSEWHERE = "61.09.01.2001"  # Sungai Ringin, Kecamatan Sekadau Hilir
OWN_DESA = "61.09.04.2002"  # Batu Pahat, in the device's kecamatan


@pytest.fixture(autouse=True)
def fast_pins(app: Flask) -> Iterator[None]:
    app.config["PIN_ITERATIONS"] = 1_000
    yield


def register(client: FlaskClient, app: Flask, team: str = "TIM-1",
             kecamatan: str | None = KECAMATAN, name: str = "laptop-1") -> tuple[str, str]:
    """A device of ``team`` sent to ``kecamatan``: ``(device_id, token)``."""
    with app.app_context():
        code = devices.create_registration_code(team, kecamatan_kode=kecamatan)
    answer = client.post("/api/v1/devices", json={"code": code, "name": name})
    assert answer.status_code == 201, answer.json
    return answer.json["device_id"], answer.json["token"]


def headers(token: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **extra}


def fetch(client: FlaskClient, token: str) -> dict[str, Any]:
    answer = client.get(URL, headers=headers(token))
    assert answer.status_code == 200, answer.json
    return DeviceProfileSchema().load(answer.json)


def kecamatan_desa(app: Flask) -> list[str]:
    with app.app_context():
        codes = [kode for (kode,) in db.session.execute(
            select(Region.kode).where(Region.level == DESA,
                                      Region.kode.startswith(KECAMATAN + "."))
            .order_by(Region.kode))]
        db.session.commit()
    return codes


def test_profile_lists_the_teams_active_operators_and_the_devices_desa(
        app: Flask, client: FlaskClient) -> None:
    device_id, token = register(client, app)
    with app.app_context():
        pins = {name: operators.create_operator(name, "TIM-1", f"Nama {name}")
                for name in ("op.zul", "op.ani", "op.off")}
        operators.create_operator("op.other", "TIM-2")
        operators.set_active("op.off", False)
    plan(app, device_id, desa_kode=ELSEWHERE)
    plan(app, device_id, desa_kode=OWN_DESA)  # already listed: not twice
    profile = fetch(client, token)
    assert profile["team"] == "TIM-1"
    assert profile["kecamatan"] == {"kode": KECAMATAN, "nama": "Nanga Mahap"}
    assert [o["username"] for o in profile["operators"]] == ["op.ani", "op.zul"]
    assert profile["operators"][0]["nama"] == "Nama op.ani"
    for operator in profile["operators"]:
        assert verify_pin(pins[operator["username"]], operator["pin_hash"])
    codes = [d["kode"] for d in profile["desa"]]
    assert codes == sorted({*kecamatan_desa(app), ELSEWHERE})
    assert len(codes) == len(set(codes)) == 14
    assert {"kode": ELSEWHERE, "nama": "Sungai Ringin"} in profile["desa"]
    body = {k: v for k, v in profile.items() if k not in ("version", "server_time")}
    assert profile["version"] == hashlib.sha256(canonical_json(body)).hexdigest()


def test_desa_of_closed_or_cancelled_visits_and_other_devices_are_left_out(
        app: Flask, client: FlaskClient) -> None:
    device_id, token = register(client, app, kecamatan=None)
    other_id, _ = register(client, app, name="laptop-2")
    closed = plan(app, device_id, desa_kode=ELSEWHERE)
    plan(app, other_id, desa_kode="61.09.01.2002")
    assert fetch(client, token)["desa"] == [{"kode": ELSEWHERE, "nama": "Sungai Ringin"}]
    with app.app_context():
        visits.close_visit(closed, actor=PLANNER, cancel=True)
    profile = fetch(client, token)
    assert profile["kecamatan"] is None and profile["desa"] == []
    assert profile["operators"] == []


def test_etag_and_304(app: Flask, client: FlaskClient) -> None:
    _, token = register(client, app)
    with app.app_context():
        operators.create_operator("op.a", "TIM-1")
    first = client.get(URL, headers=headers(token))
    version = first.json["version"]
    assert first.headers["ETag"] == f'"{version}"'
    assert first.headers["Cache-Control"] == "no-store"
    for tag in (f'"{version}"', f'W/"{version}"', f'"{"0" * 64}", "{version}"', "*"):
        same = client.get(URL, headers=headers(token, **{"If-None-Match": tag}))
        assert same.status_code == 304, tag
        assert same.data == b""
        assert same.headers["ETag"] == f'"{version}"'
        assert same.headers["Cache-Control"] == "no-store"
    stale = client.get(URL, headers=headers(token, **{"If-None-Match": f'"{"0" * 64}"'}))
    assert stale.status_code == 200 and stale.json["version"] == version
    assert client.get(URL, headers=headers(token)).json["version"] == version  # stable


@pytest.mark.parametrize("change", [
    lambda: operators.reset_pin("op.a"),
    lambda: operators.set_active("op.a", False),
    lambda: operators.create_operator("op.b", "TIM-1"),
])
def test_version_changes_with_the_operators(app: Flask, client: FlaskClient, change: Any) -> None:
    _, token = register(client, app)
    with app.app_context():
        operators.create_operator("op.a", "TIM-1")
    version = fetch(client, token)["version"]
    with app.app_context():
        change()
    answer = client.get(URL, headers=headers(token, **{"If-None-Match": f'"{version}"'}))
    assert answer.status_code == 200 and answer.json["version"] != version


def test_another_teams_change_keeps_the_version(app: Flask, client: FlaskClient) -> None:
    _, token = register(client, app)
    version = fetch(client, token)["version"]
    with app.app_context():
        operators.create_operator("op.b", "TIM-2")
    answer = client.get(URL, headers=headers(token, **{"If-None-Match": f'"{version}"'}))
    assert answer.status_code == 304


@pytest.mark.parametrize("auth", [None, "Bearer " + "x" * 43, "Basic abc"])
def test_without_a_valid_token_401(app: Flask, client: FlaskClient, auth: str | None) -> None:
    register(client, app)
    answer = client.get(URL, headers={"Authorization": auth} if auth else {})
    assert answer.status_code == 401
    assert answer.mimetype == PROBLEM_MEDIA_TYPE
    assert answer.json["code"] == "unauthorized"
    assert "pin_hash" not in answer.get_data(as_text=True)


def test_a_revoked_device_gets_401(app: Flask, client: FlaskClient) -> None:
    device_id, token = register(client, app)
    with app.app_context():
        operators.create_operator("op.a", "TIM-1")
        devices.revoke_device(device_id)
    answer = client.get(URL, headers=headers(token))
    assert answer.status_code == 401 and answer.mimetype == PROBLEM_MEDIA_TYPE
    assert answer.json["detail"] == "Perangkat ini sudah dicabut aksesnya."


def test_openapi_describes_the_profile(client: FlaskClient) -> None:
    spec = client.get("/api/v1/openapi.json").json
    operation = spec["paths"]["/api/v1/device/profile"]["get"]
    assert set(operation["responses"]) == {"200", "304", "401"}
    assert "DeviceProfile" in spec["components"]["schemas"]
    assert "OperatorProfile" in spec["components"]["schemas"]
