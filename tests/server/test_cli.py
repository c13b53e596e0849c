"""``jemput-server`` commands through Flask's CLI runner."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import func, select

from server.core.extensions import db
from server.core.models import Device, Region, User
from tests.server.conftest import SHARED_DATA

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
    assert match and "UTC" in done.output
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


def region_count(app: Flask) -> int:
    with app.app_context():
        return int(db.session.execute(select(func.count()).select_from(Region)).scalar_one())


def test_import_regions_refuses_a_bad_file_whole(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    before = region_count(app)
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "kode,nama\n"
        "62,Kalimantan Tengah\n"  # good, but must not be written
        "62.01,Kabupaten Kotawaringin Barat\n"
        "6201,Salah Bentuk\n"  # line 4: shape
        "62.01,Ganda\n"  # line 5: duplicate
        "63.01.01,Induk Hilang\n"  # line 6: parent unknown
        "62.01.01,\n"  # line 7: empty name
        "62.01.02,A,B\n",  # line 8: three columns
        encoding="utf-8",
    )
    done = runner.invoke(args=["import-regions", str(bad)])
    assert done.exit_code == 1
    for line in (4, 5, 6, 7, 8):
        assert f"baris {line}:" in done.output
    assert "baris 2:" not in done.output and "baris 3:" not in done.output
    assert "tidak ada yang disimpan" in done.output
    assert region_count(app) == before


def test_import_regions_with_bad_header_or_missing_file(
    runner: FlaskCliRunner, tmp_path: Path
) -> None:
    headerless = tmp_path / "x.csv"
    headerless.write_text("61,Kalimantan Barat\n", encoding="utf-8")
    done = runner.invoke(args=["import-regions", str(headerless)])
    assert done.exit_code == 1 and "kode,nama" in done.output
    missing = runner.invoke(args=["import-regions", str(tmp_path / "none.csv")])
    assert missing.exit_code == 1 and "tidak dapat dibuka" in missing.output


def test_import_regions_updates_names(app: Flask, runner: FlaskCliRunner, tmp_path: Path) -> None:
    update = tmp_path / "u.csv"
    update.write_text("kode,nama\n61.09.04,Nanga Mahap (baru)\n61.09.04.2099,Desa Baru\n",
                      encoding="utf-8")
    done = runner.invoke(args=["import-regions", str(update)])
    assert done.exit_code == 0, done.output
    assert "Baru: 1, diperbarui: 1" in done.output
    with app.app_context():
        region = db.session.get(Region, "61.09.04")
        assert region is not None and region.nama == "Nanga Mahap (baru)"


def test_import_the_national_table(app: Flask, runner: FlaskCliRunner) -> None:
    national = SHARED_DATA / "wilayah_kemendagri_2025.csv"
    if not national.exists():
        pytest.skip(f"{national} is not there")
    done = runner.invoke(args=["import-regions", str(national)])
    assert done.exit_code == 0, done.output
    assert "ditolak: 0" in done.output
    assert region_count(app) == 91_599
