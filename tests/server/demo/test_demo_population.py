"""The synthetic Sekadau registry: exact reported totals, valid NIKs, plausible people."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import func, select
from stdnum.id import nik as stdnum_nik

from server.core.errors import Conflict, InvalidInput
from server.core.extensions import db
from server.core.models import Resident
from server.coverage import figures
from server.demo import population as dp
from server.registry.population import FIELDS
from server.registry.wajib import EVER_MARRIED, add_months, adult_cutoff
from shared import vocab
from shared.nik import check_nik_against_record, parse_nik

AT = dt.date(2026, 11, 29)
SCALE = 0.02
COLUMN = {name: index for index, name in enumerate(FIELDS)}


@pytest.fixture(scope="module")
def people() -> list[dict[str, object]]:
    """The residents at scale 0.02 (4,510 of them), as dicts."""
    return [dict(zip(FIELDS, row, strict=True)) for row in dp.generate(SCALE, at=AT)]


def born(person: dict[str, object]) -> dt.date:
    value = person["tanggal_lahir"]
    assert isinstance(value, dt.date)
    return value


def is_wajib(person: dict[str, object]) -> bool:
    return born(person) <= adult_cutoff(AT) or person["status_perkawinan"] in EVER_MARRIED


def test_full_scale_plan_adds_up_to_the_reported_figures() -> None:
    plans = dp.plan(1.0)
    assert len(plans) == 94
    assert sum(p.wajib for p in plans) == 148_293
    assert sum(p.recorded for p in plans) == 127_901
    assert sum(p.wajib + p.children for p in plans) == 225_494
    assert all(0 <= p.recorded <= p.wajib for p in plans)
    by_kecamatan: Counter[str] = Counter()
    recorded: Counter[str] = Counter()
    for p in plans:
        by_kecamatan[p.kode[:8]] += p.wajib
        recorded[p.kode[:8]] += p.recorded
    kecamatan = sorted(dp.VOTERS_2018)
    assert [by_kecamatan[k] for k in kecamatan] == dp.largest_remainder(
        148_293, [dp.VOTERS_2018[k] for k in kecamatan])
    assert by_kecamatan["61.09.01"] == 47_288  # 148,293 x 48,661 / 152,600 voters
    mahap = [p for p in plans if p.kode.startswith("61.09.04.")]
    assert [p.wajib for p in mahap] == dp.largest_remainder(
        by_kecamatan["61.09.04"], [dp.NANGA_MAHAP_DESA[p.kode] for p in mahap])
    percent = {k: recorded[k] / by_kecamatan[k] for k in kecamatan}
    assert min(percent, key=percent.__getitem__) == "61.09.04"
    assert 0.65 < percent["61.09.04"] < 0.75
    assert all(percent[k] > 0.84 for k in kecamatan if k != "61.09.04")


def test_scaled_plan_rounds_each_total() -> None:
    plans = dp.plan(0.1)
    assert sum(p.wajib for p in plans) == 14_829  # round(14,829.3)
    assert sum(p.recorded for p in plans) == 12_790
    assert sum(p.wajib + p.children for p in plans) == 22_549


def test_largest_remainder_and_caps() -> None:
    assert dp.largest_remainder(10, [1, 1, 1]) == [4, 3, 3]
    assert dp.largest_remainder(7, [5, 0, 2]) == [5, 0, 2]
    assert dp.capped_split(10, [1, 8, 1], [5, 3, 5]) == [4, 3, 3]
    with pytest.raises(ValueError, match="caps"):
        dp.capped_split(10, [1, 1], [3, 3])


def test_generated_totals_are_exact(people: list[dict[str, object]]) -> None:
    wajib = [p for p in people if is_wajib(p)]
    assert len(people) == round(225_494 * SCALE)
    assert len(wajib) == round(148_293 * SCALE)
    assert sum(bool(p["recorded"]) for p in wajib) == round(127_901 * SCALE)
    assert not any(p["recorded"] for p in people if not is_wajib(p))
    soon = adult_cutoff(add_months(AT, 3))
    turning = [p for p in people if not is_wajib(p) and born(p) <= soon]
    assert 10 <= len(turning) <= 40  # about 1.5 % of the children
    assert any(p["status_perkawinan"] == "KAWIN" and born(p) > adult_cutoff(AT)
               for p in people)  # wajib by marriage before 17


def test_niks_are_valid_unique_and_agree_with_the_person(
        people: list[dict[str, object]]) -> None:
    niks = [str(p["nik"]) for p in people]
    assert len(set(niks)) == len(niks)
    own = 0
    for p in people:
        nik = str(p["nik"])
        assert stdnum_nik.is_valid(nik), nik
        facts = parse_nik(nik, AT)
        assert check_nik_against_record(facts, born(p), str(p["jenis_kelamin"])) == []
        assert facts.kecamatan_code in dp.VOTERS_2018  # first registered in Sekadau
        own += facts.kecamatan_code == str(p["desa_kode"])[:8]
    assert own / len(people) > 0.9  # mostly where they live; some moved


def test_people_are_plausible(people: list[dict[str, object]]) -> None:
    for p in people:
        age = (AT - born(p)).days // 365
        assert 0 <= age <= 96
        assert p["agama"] in vocab.AGAMA and p["pekerjaan"] in vocab.PEKERJAAN
        assert p["golongan_darah"] in vocab.GOLONGAN_DARAH
        assert p["status_perkawinan"] in vocab.STATUS_PERKAWINAN
        assert p["jenis_kelamin"] in vocab.JENIS_KELAMIN and p["kewarganegaraan"] == "WNI"
        name = str(p["nama"])
        assert name == name.upper() and len(name.split()) >= 2 and len(name) <= 120
        assert str(p["alamat"]).startswith("DUSUN ") and len(str(p["rt"])) == 3
        if not is_wajib(p):
            assert p["status_perkawinan"] == "BELUM KAWIN"
            assert p["pekerjaan"] in ("BELUM/TIDAK BEKERJA", "PELAJAR/MAHASISWA")
        elif age < 17:
            assert p["status_perkawinan"] == "KAWIN"
    religions = Counter(str(p["agama"]) for p in people)
    assert [name for name, _ in religions.most_common(3)] == ["KATHOLIK", "ISLAM", "KRISTEN"]
    men = sum(p["jenis_kelamin"] == "LAKI-LAKI" for p in people) / len(people)
    assert 0.49 < men < 0.55  # 116,971 of 225,494


def test_deterministic_for_a_seed() -> None:
    first = list(dp.generate(0.005, at=AT, seed=7))
    assert first == list(dp.generate(0.005, at=AT, seed=7))
    assert first != list(dp.generate(0.005, at=AT, seed=8))


def test_load_matches_the_coverage_report(app: Flask) -> None:
    with app.app_context():
        summary = dp.load(0.01, at=AT)
        report = figures.report(AT)
    assert (summary.residents, summary.wajib, summary.recorded, summary.desa) == (
        2_255, 1_483, 1_279, 94)
    top = report.top
    assert top is not None
    assert (top.wajib, top.recorded_siak, top.recorded_jemput, str(top.percent)) == (
        1_483, 1_279, 0, "86.24")
    least = min(report.kecamatan, key=lambda row: row.percent or 0)
    assert least.nama == "Nanga Mahap"


def test_an_existing_registry_is_kept_unless_replaced(app: Flask) -> None:
    with app.app_context():
        dp.load(0.005, at=AT)
        niks = set(db.session.execute(select(Resident.nik)).scalars())
        with pytest.raises(Conflict, match="sudah berisi 1127 penduduk"):
            dp.load(0.005, at=AT, seed=9)
        assert set(db.session.execute(select(Resident.nik)).scalars()) == niks
        dp.load(0.005, at=AT, seed=9, replace=True)
        assert set(db.session.execute(select(Resident.nik)).scalars()) != niks
        assert db.session.execute(select(func.count()).select_from(Resident)).scalar_one() \
            == 1_127


@pytest.mark.parametrize("scale", [0, -0.5, 1.5])
def test_a_bad_scale_writes_nothing(app: Flask, scale: float) -> None:
    with app.app_context():
        with pytest.raises(InvalidInput, match="Skala"):
            dp.load(scale, at=AT)
        assert db.session.execute(select(func.count()).select_from(Resident)).scalar_one() == 0


def test_cli(app: Flask, runner: FlaskCliRunner) -> None:
    done = runner.invoke(args=["demo-population", "--scale", "0.01", "--at", "2026-11-29"])
    assert done.exit_code == 0, done.output
    assert "2.255 di 94 desa" in done.output and "wajib KTP 1.483" in done.output
    assert "(86,24 %)" in done.output
    again = runner.invoke(args=["demo-population", "--scale", "0.01"])
    assert again.exit_code == 1 and "--replace" in again.output
    for bad in (["--scale", "0"], ["--scale", "2"], ["--at", "2026-02-30"]):
        refused = runner.invoke(args=["demo-population", "--replace", *bad])
        assert refused.exit_code != 0, bad
    table = runner.invoke(args=["coverage", "--at", "2026-11-29"])
    assert "1.483" in table.output and "86,24" in table.output and "Nanga Mahap" in table.output
    with app.app_context():
        assert db.session.execute(select(func.count()).select_from(Resident)).scalar_one() \
            == 2_255
