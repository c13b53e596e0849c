"""``jemput-server`` account commands through Flask's CLI runner: init, users, devices."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import func, select

from server.core.extensions import db
from server.core.models import Device, Region, User

CODE = re.compile(r"\b[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}\b")


def test_init_twice(app: Flask, runner: FlaskCliRunner) -> None:
    first = runner.invoke(args=["init"])
    assert first.exit_code == 0, first.output
    assert "dibuat" in first.output
    password = first.output.strip().splitlines()[-1].strip()
    assert len(password) >= 12
    again = runner.invoke(args=["init"])
    assert again.exit_code == 0, again.output
    assert "sudah ada" in again.output
    assert password not in again.output
    with app.app_context():
        admin = db.session.execute(select(User)).scalar_one()
        assert (admin.username, admin.role) == ("admin", "admin")
        assert password not in admin.password_hash
        desa = db.session.execute(select(func.count()).where(Region.level == 4)).scalar_one()
        assert desa == 94


def test_create_user(app: Flask, runner: FlaskCliRunner) -> None:
    done = runner.invoke(args=["create-user", "Siti.Rahma", "--role", "reviewer"])
    assert done.exit_code == 0, done.output
    assert "siti.rahma" in done.output
    with app.app_context():
        user = db.session.execute(select(User)).scalar_one()
        assert (user.username, user.role, user.active) == ("siti.rahma", "reviewer", True)


def test_duplicate_user_is_a_plain_error(runner: FlaskCliRunner) -> None:
    assert runner.invoke(args=["create-user", "budi", "--role", "viewer"]).exit_code == 0
    again = runner.invoke(args=["create-user", "budi", "--role", "admin"])
    assert again.exit_code == 1
    assert "sudah ada" in again.output
    assert "Traceback" not in again.output


def test_bad_role_is_a_plain_error(app: Flask, runner: FlaskCliRunner) -> None:
    done = runner.invoke(args=["create-user", "budi", "--role", "boss"])
    assert done.exit_code == 1
    assert "Peran 'boss' tidak dikenal" in done.output
    with app.app_context():
        assert db.session.execute(select(func.count()).select_from(User)).scalar_one() == 0


def test_device_code_registers_one_device(runner: FlaskCliRunner, client: FlaskClient) -> None:
    done = runner.invoke(args=["device-code", "--team", "TIM-MAHAP", "--ttl-hours", "2"])
    assert done.exit_code == 0, done.output
    match = CODE.search(done.output)
    assert match and re.search(r"sampai \d{2}-\d{2}-\d{4} \d{2}:\d{2} WIB", done.output)
    answer = client.post("/api/v1/devices", json={"code": match.group(0)})
    assert answer.status_code == 201 and answer.json["team"] == "TIM-MAHAP"


def test_device_code_refuses_a_bad_ttl(runner: FlaskCliRunner) -> None:
    done = runner.invoke(args=["device-code", "--team", "T", "--ttl-hours", "0"])
    assert done.exit_code != 0


def test_revoke_device(app: Flask, runner: FlaskCliRunner, device: tuple[str, str]) -> None:
    done = runner.invoke(args=["revoke-device", device[0]])
    assert done.exit_code == 0, done.output
    with app.app_context():
        stored = db.session.get(Device, device[0])
        assert stored is not None and stored.revoked_at is not None
    unknown = runner.invoke(args=["revoke-device", "no-such-device"])
    assert unknown.exit_code == 1 and "tidak ditemukan" in unknown.output
