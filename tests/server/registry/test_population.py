"""Population registry imports: SIAK-style CSV, upsert, all-or-nothing, clear refusals."""

from __future__ import annotations

import csv
import datetime as dt
import io
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import func, insert, select

from server.core import commands
from server.core.errors import Conflict, InvalidInput
from server.core.models import Region, Resident
from server.core.timeutil import utcnow
from server.registry import population, regions
from tests.support.records import DESA, nik_for

HEADER = ("nik", "nama", "tempat_lahir", "tanggal_lahir", "jenis_kelamin", "golongan_darah",
          "alamat", "rt", "rw", "desa_kode", "agama", "status_perkawinan", "pekerjaan",
          "kewarganegaraan", "sudah_rekam")
BORN = dt.date(1990, 8, 17)


def population_rows(count: int, start: int = 0, **changes: str) -> Iterator[dict[str, str]]:
    """``count`` valid residents (distinct NIKs), every column filled; ``changes`` override."""
    for number in range(start, start + count):
        sex = "PEREMPUAN" if number % 2 else "LAKI-LAKI"
        born = BORN + dt.timedelta(days=number // 9999)
        row = {
            "nik": nik_for(born, sex, number % 9999 + 1), "nama": f"WARGA {number}",
            "tempat_lahir": "SEKADAU", "tanggal_lahir": born.isoformat(), "jenis_kelamin": sex,
            "golongan_darah": "O", "alamat": "DUSUN TEMBAGA", "rt": "001", "rw": "002",
            "desa_kode": DESA, "agama": "KATHOLIK", "status_perkawinan": "KAWIN",
            "pekerjaan": "PETANI/PEKEBUN", "kewarganegaraan": "WNI", "sudah_rekam": "N",
        }
        row.update(changes)
        yield row


def write_csv(path: Path, rows: Any, header: tuple[str, ...] = HEADER) -> Path:
    """Write ``rows`` (dicts) under ``header`` as UTF-8 CSV."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for row in rows:
            writer.writerow([row.get(name, "") for name in header])
    return path


def resident_count(db: SQLAlchemy) -> int:
    return int(db.session.execute(select(func.count()).select_from(Resident)).scalar_one())


def snapshot(db: SQLAlchemy) -> list[tuple[Any, ...]]:
    """Every resident as plain values, to prove that a refused import changed nothing."""
    db.session.expire_all()
    rows = db.session.execute(select(Resident.nik, Resident.nama, Resident.desa_kode,
                                     Resident.recorded).order_by(Resident.nik))
    return [tuple(row) for row in rows]


@pytest.fixture
def existing(db: SQLAlchemy) -> str:
    """One resident already in the registry; returns its NIK."""
    nik = nik_for(dt.date(1970, 1, 2), "LAKI-LAKI", 77)
    db.session.add(Resident(nik=nik, nama="LAMA", tanggal_lahir=dt.date(1970, 1, 2),
                            jenis_kelamin="LAKI-LAKI", desa_kode=DESA, recorded=True,
                            updated_at=utcnow()))
    db.session.commit()
    return nik


def test_import_normalises_and_reports_progress(db: SQLAlchemy, tmp_path: Path) -> None:
    first = next(population_rows(1, rt="1", rw="12", agama="islam", sudah_rekam="ya",
                                 tanggal_lahir="17-08-1990"))
    minimal = next(population_rows(1, start=1))
    minimal = {name: minimal[name] for name in population.REQUIRED}
    path = write_csv(tmp_path / "p.csv", [first])
    with path.open("a", encoding="utf-8") as handle:  # optional cells left empty
        handle.write(",".join(minimal.get(name, "") for name in HEADER) + "\n")
    seen: list[tuple[int, int]] = []
    report = population.import_population(path, progress=lambda d, t: seen.append((d, t)))
    assert report.ok and (report.imported, report.updated, report.unchanged) == (2, 0, 0)
    assert seen[-1] == (path.stat().st_size, path.stat().st_size)
    stored = db.session.get(Resident, first["nik"])
    assert stored is not None
    assert (stored.rt, stored.rw, stored.agama, stored.recorded, stored.tanggal_lahir) == (
        "001", "012", "ISLAM", True, BORN)
    bare = db.session.get(Resident, minimal["nik"])
    assert bare is not None and (bare.agama, bare.rt, bare.recorded) == (None, None, False)


def test_header_is_case_insensitive_and_columns_may_be_reordered(
    db: SQLAlchemy, tmp_path: Path
) -> None:
    header = ("DESA_KODE", "Nama", "NIK", "jenis_kelamin", "tanggal_lahir")
    rows = [{name.upper(): value for name, value in row.items()}
            | {"Nama": row["nama"], "jenis_kelamin": row["jenis_kelamin"],
               "tanggal_lahir": row["tanggal_lahir"]}
            for row in population_rows(3)]
    report = population.import_population(write_csv(tmp_path / "p.csv", rows, header))
    assert report.ok and report.imported == 3 and resident_count(db) == 3


def test_second_import_is_unchanged_and_changes_are_updates(
    db: SQLAlchemy, tmp_path: Path
) -> None:
    rows = list(population_rows(12_000))  # more than one write chunk
    path = write_csv(tmp_path / "p.csv", rows)
    assert population.import_population(path).imported == 12_000
    again = population.import_population(path)
    assert (again.imported, again.updated, again.unchanged) == (0, 0, 12_000)
    rows[5]["nama"], rows[6]["sudah_rekam"] = "NAMA BARU", "Y"
    rows.append(next(population_rows(1, start=20_000)))
    changed = population.import_population(write_csv(tmp_path / "p2.csv", rows))
    assert (changed.imported, changed.updated, changed.unchanged) == (1, 2, 11_998)
    db.session.expire_all()
    renamed = db.session.get(Resident, rows[5]["nik"])
    recorded = db.session.get(Resident, rows[6]["nik"])
    assert renamed is not None and renamed.nama == "NAMA BARU"
    assert recorded is not None and recorded.recorded is True
    assert resident_count(db) == 12_001


def test_every_bad_row_is_reported_and_nothing_is_saved(
    db: SQLAlchemy, tmp_path: Path, existing: str
) -> None:
    good = list(population_rows(6000))  # a write chunk goes out before the first bad line
    bad = [
        next(population_rows(1, start=9001, nik="6109041708901")),  # 7 digits short
        next(population_rows(1, start=9002, nik="9909041708900001")),  # unknown province
        next(population_rows(1, start=9003, nama="")),
        next(population_rows(1, start=9004, tanggal_lahir="1990/08/17")),
        next(population_rows(1, start=9005, tanggal_lahir="31-02-1990")),
        next(population_rows(1, start=9006, tanggal_lahir="2999-01-01")),
        next(population_rows(1, start=9007, jenis_kelamin="L")),
        next(population_rows(1, start=9008, agama="JEDI")),
        next(population_rows(1, start=9009, pekerjaan="ASTRONOT")),
        next(population_rows(1, start=9010, golongan_darah="Z")),
        next(population_rows(1, start=9011, desa_kode="61.09.04.2999")),
        next(population_rows(1, start=9012, rt="12a")),
        next(population_rows(1, start=9013, sudah_rekam="mungkin")),
        next(population_rows(1, start=9014, alamat="x" * 201)),
        dict(good[10], nama="ORANG LAIN"),  # duplicate NIK of line 12
        next(population_rows(1, start=9016, nama="MERGE")),
    ]
    bad[-1]["nik"] = existing  # an update of an existing resident: must not be saved either
    path = write_csv(tmp_path / "p.csv", good + bad)
    with path.open("a", encoding="utf-8") as handle:
        handle.write("6109041708900001,TERLALU,SEDIKIT\n")
    before = snapshot(db)
    report = population.import_population(path)
    first_bad = 2 + len(good)
    lines = [line for line, _ in report.refused]
    assert lines == [*range(first_bad, first_bad + 15), first_bad + 16]
    reasons = dict(report.refused)
    assert "NIK harus 16 angka" in reasons[first_bad]
    assert "provinsi" in reasons[first_bad + 1]
    assert reasons[first_bad + 2] == "nama wajib diisi"
    assert "TTTT-BB-HH" in reasons[first_bad + 3]
    assert "bukan tanggal yang ada" in reasons[first_bad + 4]
    assert "tidak mungkin" in reasons[first_bad + 5]
    assert reasons[first_bad + 6] == "jenis_kelamin 'L' bukan nilai SIAK yang dikenal"
    assert "agama 'JEDI'" in reasons[first_bad + 7]
    assert "pekerjaan 'ASTRONOT'" in reasons[first_bad + 8]
    assert "golongan_darah 'Z'" in reasons[first_bad + 9]
    assert "desa_kode '61.09.04.2999' tidak dikenal" in reasons[first_bad + 10]
    assert "rt '12a'" in reasons[first_bad + 11]
    assert "sudah_rekam 'mungkin'" in reasons[first_bad + 12]
    assert "alamat paling banyak 200" in reasons[first_bad + 13]
    assert reasons[first_bad + 14] == "NIK ganda (sudah ada di baris 12)"
    assert reasons[first_bad + 16] == "harus 15 kolom seperti judul, ada 3"
    assert not report.ok and report.imported == 0
    assert snapshot(db) == before


@pytest.mark.parametrize(("header", "message"), [
    (("nik", "nama", "tanggal_lahir", "jenis_kelamin"), "kolom wajib tidak ada: desa_kode"),
    ((*population.REQUIRED, "tgl_lahir"), "kolom tidak dikenal: tgl_lahir"),
    ((*population.REQUIRED, "NAMA"), "kolom ganda: nama"),
])
def test_wrong_columns_are_refused_whole(
    db: SQLAlchemy, tmp_path: Path, existing: str, header: tuple[str, ...], message: str
) -> None:
    path = write_csv(tmp_path / "p.csv", population_rows(3), header)
    before = snapshot(db)
    with pytest.raises(InvalidInput, match=message) as caught:
        population.import_population(path)
    assert "baris 1" in caught.value.detail
    assert snapshot(db) == before


def test_bad_encoding_names_the_line(db: SQLAlchemy, tmp_path: Path, existing: str) -> None:
    path = write_csv(tmp_path / "p.csv", population_rows(7000))
    with path.open("ab") as handle:
        row = next(population_rows(1, start=8000))
        handle.write(",".join(row[name] for name in HEADER).replace("WARGA", "WARGA\xe9")
                     .encode("latin-1") + b"\n")
    before = snapshot(db)
    with pytest.raises(InvalidInput, match=r"bukan teks UTF-8: baris 7002 berisi byte 0xe9"):
        population.import_population(path)
    assert snapshot(db) == before


def test_a_quoted_field_over_two_lines_keeps_line_numbers(db: SQLAlchemy, tmp_path: Path) -> None:
    rows = list(population_rows(3))
    rows[0]["alamat"] = "DUSUN\nTEMBAGA"
    rows[2]["agama"] = "JEDI"
    report = population.import_population(write_csv(tmp_path / "p.csv", rows))
    assert [line for line, _ in report.refused] == [5]
    assert resident_count(db) == 0


def test_cli_imports_and_refuses(app: Flask, runner: FlaskCliRunner, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "p.csv", population_rows(5))
    done = runner.invoke(args=["import-population", str(path)])
    assert done.exit_code == 0, done.output
    assert "Baru: 5, diperbarui: 0, tidak berubah: 0, ditolak: 0." in done.output
    bad = write_csv(tmp_path / "bad.csv", population_rows(2, start=10, jenis_kelamin="X"))
    refused = runner.invoke(args=["import-population", str(bad)])
    assert refused.exit_code == 1
    assert "baris 2: jenis_kelamin 'X'" in refused.output
    assert "baris 3: jenis_kelamin 'X'" in refused.output
    assert "tidak ada yang disimpan" in refused.output
    folder = runner.invoke(args=["import-population", str(tmp_path)])
    assert folder.exit_code == 1 and "adalah folder" in folder.output
    with app.app_context():
        from server.core.extensions import db

        assert resident_count(db) == 5


IMPORTS = pytest.mark.parametrize("run_import", [regions.import_regions,
                                                population.import_population],
                                  ids=["regions", "population"])


@IMPORTS
def test_files_that_cannot_be_imported(
    db: SQLAlchemy, tmp_path: Path, existing: str, run_import: Any
) -> None:
    before, regions_before = snapshot(db), region_rows(db)
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    blank = tmp_path / "blank.csv"
    blank.write_bytes(b"\xef\xbb\xbf\n\n")
    cases = [
        (empty, "kosong"), (blank, "kosong"), (tmp_path, "adalah folder"),
        (tmp_path / "none.csv", "tidak dapat dibuka: berkas tidak ada"),
    ]
    for path, message in cases:
        with pytest.raises(InvalidInput, match=message):
            run_import(path)
    assert snapshot(db) == before and region_rows(db) == regions_before


@IMPORTS
def test_a_5_gb_file_is_refused_before_reading(
    app: Flask, db: SQLAlchemy, tmp_path: Path, existing: str, run_import: Any
) -> None:
    huge = tmp_path / "huge.csv"
    with huge.open("wb") as handle:
        handle.write(b"kode,nama\n")
        handle.truncate(5 * 1024**3)  # sparse: no disk used
    before, regions_before = snapshot(db), region_rows(db)
    with pytest.raises(InvalidInput, match=r"terlalu besar \(5,0 GB\); batas impor 4,0 GB"):
        run_import(huge)
    assert snapshot(db) == before and region_rows(db) == regions_before
    app.config["JEMPUT_IMPORT_MAX_BYTES"] = 10
    small = tmp_path / "small.csv"
    small.write_text("kode,nama\n62,Kalimantan Tengah\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match="JEMPUT_IMPORT_MAX_BYTES"):
        run_import(small)


@IMPORTS
@pytest.mark.parametrize(("line", "message"), [
    (b'62,"Kalimantan"Tengah', "Baris 3 bukan CSV yang sah"),
    (b"62,Kalimantan\x00Tengah", "Baris 3 berisi byte NUL"),
    (b"62," + b"x" * 200_000, "Baris 3 lebih panjang dari 64 KB"),  # no line breaks: not read whole
])
def test_malformed_csv_names_the_line(
    db: SQLAlchemy, tmp_path: Path, existing: str, run_import: Any, line: bytes, message: str
) -> None:
    header = "kode,nama" if run_import is regions.import_regions else ",".join(HEADER)
    path = tmp_path / "bad.csv"
    path.write_bytes(header.encode() + b"\n\n" + line + b"\n")
    before, regions_before = snapshot(db), region_rows(db)
    with pytest.raises(InvalidInput, match=message):
        run_import(path)
    assert snapshot(db) == before and region_rows(db) == regions_before


def region_rows(db: SQLAlchemy) -> int:
    return int(db.session.execute(select(func.count()).select_from(Region)).scalar_one())


def test_a_resident_written_meanwhile_is_a_conflict(
    db: SQLAlchemy, tmp_path: Path, existing: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if db.engine.dialect.name == "postgresql":
        pytest.skip("PostgreSQL merges in SQL: see the concurrent-transaction test below")
    rows = [*population_rows(3), next(population_rows(1, start=50, nik=existing))]
    path = write_csv(tmp_path / "p.csv", rows)
    # As if another import inserted ``existing`` after this one read the registry.
    monkeypatch.setattr(population, "_existing_residents", lambda niks: {})
    before = snapshot(db)
    with pytest.raises(Conflict, match="berubah selama impor"):
        population.import_population(path)
    assert snapshot(db) == before


def test_a_resident_inserted_by_a_concurrent_transaction_is_a_conflict(
    db: SQLAlchemy, tmp_path: Path
) -> None:
    """PostgreSQL: another transaction inserts one of the file's NIKs and commits while the
    merge waits on it; the import saves nothing and says why."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("the staged merge runs on PostgreSQL only")
    rows = list(population_rows(3))
    path = write_csv(tmp_path / "p.csv", rows)
    other = db.engine.connect()
    transaction = other.begin()
    other.execute(insert(Resident).values(
        nik=rows[1]["nik"], nama="LAIN", tanggal_lahir=BORN, jenis_kelamin="PEREMPUAN",
        desa_kode=DESA, recorded=False, updated_at=utcnow()))
    committer = threading.Timer(0.5, transaction.commit)
    committer.start()
    try:
        with pytest.raises(Conflict, match="berubah selama impor"):
            population.import_population(path)
    finally:
        committer.join()
        other.close()
    assert snapshot(db) == [(rows[1]["nik"], "LAIN", DESA, False)]


def test_a_value_seen_before_gets_the_same_check_every_time(
    db: SQLAlchemy, tmp_path: Path
) -> None:
    """Columns with few values remember accepted values; a refused one is refused again."""
    rows = list(population_rows(6))
    rows[0]["agama"] = rows[1]["agama"] = " katholik "
    rows[2]["agama"] = rows[3]["agama"] = "SIKH"
    rows[4]["rt"] = rows[5]["rt"] = "7"
    refused = population.import_population(write_csv(tmp_path / "p.csv", rows))
    assert refused.refused == [(line, "agama 'SIKH' bukan nilai SIAK yang dikenal")
                               for line in (4, 5)]
    rows[2]["agama"] = rows[3]["agama"] = "ISLAM"
    assert population.import_population(write_csv(tmp_path / "p2.csv", rows)).imported == 6
    stored = dict(db.session.execute(select(Resident.nik, Resident.agama)).all())
    assert [stored[row["nik"]] for row in rows[:4]] == ["KATHOLIK", "KATHOLIK", "ISLAM", "ISLAM"]
    rts = db.session.execute(select(Resident.rt).where(
        Resident.nik.in_([rows[4]["nik"], rows[5]["nik"]]))).scalars().all()
    assert rts == ["007", "007"]


def test_progress_bar_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    screen = Terminal()
    monkeypatch.setattr(commands.sys, "stderr", screen)
    with commands.progress_bar("Impor penduduk") as progress:
        assert progress is not None
        progress(512, 1024)
        progress(1024, 1024)
    assert "Impor penduduk" in screen.getvalue() and "100%" in screen.getvalue()


def test_excel_semicolon_csv_is_read(db: SQLAlchemy, tmp_path: Path) -> None:
    rows = list(population_rows(2))
    path = tmp_path / "excel.csv"
    lines = [";".join(HEADER).upper(), *(";".join(row[name] for name in HEADER) for row in rows)]
    path.write_bytes(("\ufeff\r\n" + "\r\n".join(lines) + "\r\n").encode("utf-8"))
    report = population.import_population(path)
    assert report.ok and report.imported == 2
    stored = db.session.get(Resident, rows[1]["nik"])
    assert stored is not None and stored.kewarganegaraan == "WNI" and stored.recorded is False


def test_only_ascii_digits_count(db: SQLAlchemy, tmp_path: Path) -> None:
    rows = [next(population_rows(1, rt="\u0661")),  # ARABIC-INDIC DIGIT ONE
            next(population_rows(1, start=1, tanggal_lahir="\u0661990-08-17"))]
    report = population.import_population(write_csv(tmp_path / "p.csv", rows))
    assert [line for line, _ in report.refused] == [2, 3]
    assert resident_count(db) == 0
