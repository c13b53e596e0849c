"""``jemput-server import-regions`` through Flask's CLI runner: all or nothing, plain errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import func, select

from server.core.extensions import db
from server.core.models import Region
from tests.support.server_app import SHARED_DATA


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
