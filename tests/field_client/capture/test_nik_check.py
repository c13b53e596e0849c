"""The NIK checked while typed: the rules of saving, as errors and warnings by field."""

from __future__ import annotations

from pathlib import Path

import pytest

from field_client.capture import nik_check
from field_client.client import FieldClient
from field_client.config import Settings
from field_client.store import profile
from shared import datakey
from tests.support.field_ui import profile_document

NIK = "6109045708900001"  # a woman born 17-08-1990, first registered in 61.09.04


def test_a_valid_nik_gives_its_facts() -> None:
    found = nik_check.check(NIK, "1990-08-17", "PEREMPUAN", "61.09.04")
    assert found == {
        "ok": True,
        "errors": {},
        "warnings": [],
        "facts": {
            "kecamatan_kode": "61.09.04",
            "provinsi": found["facts"]["provinsi"],
            "kabupaten": found["facts"]["kabupaten"],
            "tanggal_lahir": "1990-08-17",
            "jenis_kelamin": "PEREMPUAN",
        },
    }
    assert found["facts"]["provinsi"] and found["facts"]["kabupaten"]


@pytest.mark.parametrize(
    ("nik", "text"),
    [
        ("", "NIK wajib diisi"),
        ("61090457089", "NIK harus 16 angka, bukan 11"),
        ("610904570890000A", "hanya boleh berisi angka"),
        ("6109045708900000", "tidak boleh 0000"),
        ("9909045708900001", "provinsi NIK '99' tidak dikenal"),
        ("6109049908900001", "tidak mungkin"),
        (None, "NIK"),
    ],
)
def test_an_invalid_nik_is_an_error_on_the_nik_field(nik: str, text: str) -> None:
    found = nik_check.check(nik)
    assert not found["ok"] and found["facts"] is None and found["warnings"] == []
    [message] = found["errors"]["nik"]
    assert text in message


def test_mismatches_are_warnings_on_their_fields() -> None:
    found = nik_check.check(NIK, "1991-08-17", "laki-laki")
    assert found["ok"]
    assert [(w["code"], w["field"]) for w in found["warnings"]] == [
        ("nik_sex_mismatch", "jenis_kelamin"),
        ("nik_birth_date_mismatch", "tanggal_lahir"),
    ]
    assert "NIK menunjukkan PEREMPUAN" in found["warnings"][0]["message"]


@pytest.mark.parametrize("tanggal", ["17-08-1990", "besok", "", None, "1990-02-30"])
def test_a_birth_date_that_is_not_a_date_is_left_to_its_field(tanggal: str | None) -> None:
    found = nik_check.check(NIK, tanggal, "PEREMPUAN")
    assert found["ok"] and found["warnings"] == []


def test_another_kecamatan_is_only_noted() -> None:
    found = nik_check.check("6109 0557 0890 0001", kecamatan_kode="61.09.04")
    assert found["ok"] and found["errors"] == {}
    [warning] = found["warnings"]
    assert (warning["code"], warning["field"]) == ("nik_other_kecamatan", "nik")
    assert "61.09.05" in warning["message"] and "Boleh dilanjutkan" in warning["message"]


def test_the_client_checks_against_its_kecamatan(home: Path) -> None:
    data_key = datakey.new_data_key()
    with FieldClient(settings=Settings(allow_test_kdf=True, home=home)) as client:
        assert client.check_nik("6109055708900001")["warnings"] == []  # no profile yet
        profile.store(client.outbox, profile_document(data_key))  # kecamatan 61.09.04
        found = client.check_nik("6109055708900001", "1990-08-17", "PEREMPUAN",
                                 data_key=data_key)
        assert [w["code"] for w in found["warnings"]] == ["nik_other_kecamatan"]
        assert client.check_nik(NIK, data_key=data_key)["warnings"] == []
