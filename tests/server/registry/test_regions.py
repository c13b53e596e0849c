"""Region reference data: the bundled Sekadau rows and CSV imports, as a service."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from server.core.errors import InvalidInput
from server.core.models import Region
from server.registry import regions
from tests.support.server_app import SHARED_DATA


def test_seed_is_idempotent(db: Any) -> None:
    report = regions.seed_sekadau()  # the fixture seeded already
    assert (report.imported, report.updated, report.unchanged) == (0, 0, 103)


def test_known_desa(db: Any) -> None:
    codes = {"61.09.04.2006", "61.09.04", "61.09.04.2999", "11.01.01.2001"}
    assert regions.known_desa(codes) == {"61.09.04.2006"}
    assert regions.known_desa(set()) == set()


def test_import_reports_progress_and_counts(db: Any, tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text("\ufeffkode,nama\n62,Kalimantan Tengah\n62.01,Kabupaten Kotawaringin Barat\n",
                    encoding="utf-8")
    seen: list[tuple[int, int]] = []
    report = regions.import_regions(path, progress=lambda done, total: seen.append((done, total)))
    assert report.ok and (report.imported, report.updated) == (2, 0)
    assert seen and seen[-1][0] == seen[-1][1] == path.stat().st_size
    assert regions.import_regions(path).unchanged == 2


def test_refused_import_writes_nothing(db: Any, tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    # More rows than one write chunk before the bad line: chunks already written roll back.
    rows = [f"62.{n // 100:02d}.{n % 100:02d},Kecamatan {n}" for n in range(100, 6100)]
    path.write_text("\n".join(["kode,nama", "62,Kalimantan Tengah",
                                *[f"62.{n:02d},Kabupaten {n}" for n in range(1, 61)],
                                *rows, "62.x,Salah"]) + "\n", encoding="utf-8")
    report = regions.import_regions(path)
    bad_line = 2 + 1 + 60 + len(rows)
    assert report.refused == [
        (bad_line, "kode '62.x' tidak berbentuk 61, 61.09, 61.09.04 atau 61.09.04.2006")]
    assert db.session.get(Region, "62") is None
    assert db.session.get(Region, "62.01.00") is None


def test_not_utf8_is_refused(db: Any, tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes("kode,nama\n62,Kalimantan Tengah \xe9\n".encode("latin-1"))
    with pytest.raises(InvalidInput, match="UTF-8"):
        regions.import_regions(path)


def test_the_national_table_imports_then_is_unchanged(db: Any) -> None:
    national = SHARED_DATA / "wilayah_kemendagri_2025.csv"
    if not national.exists():
        pytest.skip(f"{national} is not there")
    first = regions.import_regions(national)
    assert first.ok and (first.imported, first.updated, first.unchanged) == (91_496, 0, 103)
    again = regions.import_regions(national)
    assert (again.imported, again.updated, again.unchanged) == (0, 0, 91_599)
    assert regions.known_desa({"11.01.01.2001", "92.01.01.2999"}) == {"11.01.01.2001"}


def test_a_refused_import_reports_nothing_saved(db: Any, tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text("kode,nama\n62,Kalimantan Tengah\n62.01,\n", encoding="utf-8")
    report = regions.import_regions(path)
    assert report.refused == [(3, "nama harus 1-120 karakter")]
    assert (report.imported, report.updated, report.unchanged) == (0, 0, 0)
    assert db.session.get(Region, "62") is None


def test_not_utf8_names_the_line(db: Any, tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes(b"kode,nama\n62,Kalimantan Tengah\n62.01,Kabupaten \xe9\n")
    with pytest.raises(InvalidInput, match="baris 3 berisi byte 0xe9"):
        regions.import_regions(path)
    assert db.session.get(Region, "62") is None


def test_region_codes_take_ascii_digits_only(db: Any, tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text("kode,nama\n\u0666\u0662,Kalimantan Tengah\n", encoding="utf-8")
    report = regions.import_regions(path)
    assert [line for line, _ in report.refused] == [2]
