"""NIK parsing: structured facts, clear reasons, and warnings (never rejections) for mismatches."""

import datetime as dt

import pytest

from shared.errors import InvalidNik
from shared.nik import LAKI_LAKI, PEREMPUAN, check_nik_against_record, parse_nik


def test_parse_woman_with_plus_40_day() -> None:
    facts = parse_nik("6109045708900001")
    assert facts.kecamatan_code == "61.09.04"
    assert facts.regency_code == "61.09"
    assert facts.province_name == "Kalimantan Barat"
    assert facts.regency_name == "SEKADAU"
    assert facts.birth_date == dt.date(1990, 8, 17)
    assert facts.jenis_kelamin == PEREMPUAN
    assert facts.serial == "0001"


def test_parse_man_and_century_not_in_future() -> None:
    facts = parse_nik("6109041708050042", today=dt.date(2026, 11, 28))
    assert facts.jenis_kelamin == LAKI_LAKI
    assert facts.birth_date == dt.date(2005, 8, 17)
    old = parse_nik("6109041708300042", today=dt.date(2026, 11, 28))
    assert old.birth_date == dt.date(1930, 8, 17)


def test_separators_are_tolerated_by_the_parser() -> None:
    assert parse_nik("6109 0457 0890 0001").nik == "6109045708900001"


@pytest.mark.parametrize(
    ("nik", "code"),
    [
        ("610904570890000", "nik_length"),
        ("61090457089000011", "nik_length"),
        ("61090457O8900001", "nik_format"),
        ("6109043102900001", "nik_birth_date"),  # 31 February
        ("6109047213900001", "nik_birth_date"),  # day 72, month 13
        ("9909045708900001", "nik_region"),
        ("6199045708900001", "nik_region"),
        ("6109005708900001", "nik_region"),
        ("6109045708900000", "nik_serial"),
        ("", "nik_length"),
    ],
)
def test_invalid_nik_has_a_clear_reason(nik: str, code: str) -> None:
    with pytest.raises(InvalidNik) as info:
        parse_nik(nik)
    assert info.value.code == code
    assert info.value.message


def test_non_string_is_refused() -> None:
    with pytest.raises(InvalidNik) as info:
        parse_nik(6109045708900001)  # type: ignore[arg-type]
    assert info.value.code == "nik_type"


def test_matching_record_has_no_warnings() -> None:
    facts = parse_nik("6109045708900001")
    assert check_nik_against_record(facts, dt.date(1990, 8, 17), PEREMPUAN) == []


def test_mismatches_are_warnings() -> None:
    facts = parse_nik("6109045708900001")
    warnings = check_nik_against_record(facts, dt.date(1991, 1, 2), LAKI_LAKI)
    assert {w.code for w in warnings} == {"nik_sex_mismatch", "nik_birth_date_mismatch"}
    assert all(w.as_dict()["message"] for w in warnings)


def test_century_difference_alone_is_not_a_mismatch() -> None:
    facts = parse_nik("6109041708050042", today=dt.date(2026, 11, 28))
    assert check_nik_against_record(facts, dt.date(1905, 8, 17), LAKI_LAKI) == []
