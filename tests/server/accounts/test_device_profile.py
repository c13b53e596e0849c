"""``GET /api/v1/device/profile``: wraps of the device's data key for the team's active operators,
and (under that key) the names and the device's desa, by ETag."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from server.accounts import devices, operators
from server.core import keyring
from server.core.extensions import db
from server.core.models import Device, Region
from server.core.models.region import DESA
from server.outreach import visits
from shared import datakey
from shared.pin import KdfCost, WrongPin, derive_key, unwrap_key
from shared.protocol import PROBLEM_MEDIA_TYPE
from shared.schemas import DeviceProfileSchema
from shared.sealing import b64, fingerprint, unb64
from tests.support.outreach import PLANNER, plan

URL = "/api/v1/device/profile"
KECAMATAN = "61.09.04"  # Nanga Mahap
ELSEWHERE = "61.09.01.2001"  # Sungai Ringin, Kecamatan Sekadau Hilir
OWN_DESA = "61.09.04.2002"  # Batu Pahat, in the device's kecamatan


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


def data_key(wrap: dict[str, Any], pin: str) -> bytes:
    """The data key ``pin`` unwraps from one operator's wrap, as the laptop does it."""
    key = derive_key(pin, unb64(wrap["salt"]), KdfCost(wrap["opslimit"], wrap["memlimit"]))
    return unwrap_key(unb64(wrap["wrap"]), key)


def server_data_key(app: Flask, device_id: str) -> bytes:
    """The device's data key as the server keeps it (sealed to the office key)."""
    with app.app_context():
        key = devices.device_data_key(db.session.get(Device, device_id))
        db.session.commit()
    return key


def opened(profile: dict[str, Any], key: bytes) -> dict[str, Any]:
    content: dict[str, Any] = datakey.decrypt_json(key, unb64(profile["sealed"]))
    return content


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
    answer = fetch(client, token)
    assert [o["username"] for o in answer["operators"]] == ["op.ani", "op.zul"]
    keys = {data_key(wrap, pins[wrap["username"]]) for wrap in answer["operators"]}
    assert len(keys) == 1  # every operator unwraps the same device data key
    key = keys.pop()
    assert key == server_data_key(app, device_id)
    with app.app_context():
        ring = keyring.current()
    assert answer["office_key"] == {"kid": ring.sealing.kid,
                                    "public": b64(ring.sealing.public)}
    assert fingerprint(unb64(answer["office_key"]["public"])) == ring.sealing.fingerprint
    profile = opened(answer, key)
    assert profile["team"] == "TIM-1"
    assert profile["kecamatan"] == {"kode": KECAMATAN, "nama": "Nanga Mahap"}
    assert profile["operators"] == [{"username": "op.ani", "nama": "Nama op.ani"},
                                    {"username": "op.zul", "nama": "Nama op.zul"}]
    codes = [d["kode"] for d in profile["desa"]]
    assert codes == sorted({*kecamatan_desa(app), ELSEWHERE})
    assert len(codes) == len(set(codes)) == 14
    assert {"kode": ELSEWHERE, "nama": "Sungai Ringin"} in profile["desa"]
    clear = client.get(URL, headers=headers(token)).get_data(as_text=True)
    assert "Nama op.ani" not in clear and "Sungai Ringin" not in clear and "TIM-1" not in clear


def test_another_devices_key_and_a_wrong_pin_open_nothing(
        app: Flask, client: FlaskClient) -> None:
    _, token = register(client, app)
    _, other = register(client, app, name="laptop-2")
    with app.app_context():
        pin = operators.create_operator("op.a", "TIM-1")
    mine, theirs = fetch(client, token), fetch(client, other)
    key = data_key(mine["operators"][0], pin)
    assert data_key(theirs["operators"][0], pin) != key  # one data key per device
    with pytest.raises(datakey.DataKeyError):
        opened(theirs, key)
    wrong = "0" * 8 if pin != "0" * 8 else "1" * 8
    with pytest.raises(WrongPin):
        data_key(mine["operators"][0], wrong)


def test_a_pin_reset_reaches_an_already_registered_device(
        app: Flask, client: FlaskClient) -> None:
    _, token = register(client, app)
    with app.app_context():
        old = operators.create_operator("op.a", "TIM-1")
    key = data_key(fetch(client, token)["operators"][0], old)
    with app.app_context():
        new = operators.reset_pin("op.a")
    wrap = fetch(client, token)["operators"][0]
    assert data_key(wrap, new) == key  # the same data key, under the new PIN
    if new != old:
        with pytest.raises(WrongPin):
            data_key(wrap, old)


def test_desa_of_closed_or_cancelled_visits_and_other_devices_are_left_out(
        app: Flask, client: FlaskClient) -> None:
    device_id, token = register(client, app, kecamatan=None)
    other_id, _ = register(client, app, name="laptop-2")
    closed = plan(app, device_id, desa_kode=ELSEWHERE)
    plan(app, other_id, desa_kode="61.09.01.2002")
    key = server_data_key(app, device_id)
    assert opened(fetch(client, token), key)["desa"] == [
        {"kode": ELSEWHERE, "nama": "Sungai Ringin"}]
    with app.app_context():
        visits.close_visit(closed, actor=PLANNER, cancel=True)
    answer = fetch(client, token)
    profile = opened(answer, key)
    assert profile["kecamatan"] is None and profile["desa"] == []
    assert profile["operators"] == [] and answer["operators"] == []


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
    assert "wrap" not in answer.get_data(as_text=True)


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
    assert set(operation["responses"]) == {"200", "304", "401", "426"}
    assert "DeviceProfile" in spec["components"]["schemas"]
    assert "OperatorKey" in spec["components"]["schemas"]
