"""The shared record schema: what a valid record is, and a clear message for each wrong field."""

import copy
import datetime as dt
from typing import Any

import pytest
from marshmallow import ValidationError

from shared.schemas import (
    EnrollmentPayloadSchema,
    PushRequestSchema,
    RecordSchema,
    normalize_payload,
)
from shared.vocab import PEKERJAAN
from tests.support.payloads import SHA, payload, record


def test_design_example_is_valid() -> None:
    loaded = RecordSchema().load(record())
    assert loaded["captured_at"] == dt.datetime(2026, 11, 27, 3, 12, 45, tzinfo=dt.UTC)
    assert loaded["payload"]["tanggal_lahir"] == dt.date(1990, 8, 17)
    assert loaded["supersedes"] is None


def test_there_are_89_occupations() -> None:
    assert len(PEKERJAAN) == 89 == len(set(PEKERJAAN))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("nik", "610904570890000"),
        ("nik", "61090457089000011"),
        ("nik", "61090457A8900001"),
        ("nik", "6109 0457 0890 0001"),
        ("tanggal_lahir", "1990-02-31"),
        ("tanggal_lahir", "2999-01-01"),
        ("nama", "A" * 61),
        ("nama", "maria"),
        ("nama", ""),
        ("jenis_kelamin", "WANITA"),
        ("golongan_darah", "C"),
        ("agama", "islam"),
        ("pekerjaan", "ASTRONOT"),
        ("rt", "1"),
        ("desa_kode", "6109042006"),
        ("kewarganegaraan", "XX"),
    ],
)
def test_bad_payload_field_has_a_message_on_that_field(field: str, value: str) -> None:
    with pytest.raises(ValidationError) as info:
        EnrollmentPayloadSchema().load(payload(**{field: value}))
    assert set(info.value.messages) == {field}


def test_missing_and_unknown_fields() -> None:
    data = payload(hobi="MANCING")
    del data["nama"]
    with pytest.raises(ValidationError) as info:
        EnrollmentPayloadSchema().load(data)
    assert set(info.value.messages) == {"nama", "hobi"}


@pytest.mark.parametrize(
    "changes",
    [
        {"seq": "42"},
        {"seq": 0},
        {"id": "not-a-uuid"},
        {"id": "0193A4F2-7C1E-7D2A-9B1E-2F4C8A1D5E60"},
        {"captured_at": "2026-11-27T03:12:45"},  # no time zone
        {"type": "death"},
        {"attachments": [{"role": "tail", "sha256": SHA, "size": 1, "media_type": "image/png"}]},
        {"exceptions": [{"role": "photo", "reason": "amputated"}]},
        {"exceptions": [{"role": "finger_l_little", "reason": "lupa"}]},
        {
            "attachments": [
                {"role": "finger_l_little", "sha256": SHA, "size": 1, "media_type": "image/png"}
            ],
            "exceptions": [{"role": "finger_l_little", "reason": "amputated"}],
        },
        {"supersedes": "0193a4f2-7c1e-7d2a-9b1e-2f4c8a1d5e60"},
        {"extra": True},
    ],
)
def test_bad_record(changes: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        RecordSchema().load(record(**changes))


def test_push_request_limits() -> None:
    with pytest.raises(ValidationError):
        PushRequestSchema().load({"records": []})
    with pytest.raises(ValidationError):
        PushRequestSchema().load({"records": [1, 2]})
    assert PushRequestSchema().load({"records": [{"a": 1}]}) == {"records": [{"a": 1}]}


def test_normalize_payload_tidies_only_spelling() -> None:
    raw = payload(nama="  maria   goretti ", nik="6109-0457-0890-0001", rt="1", agama="katholik")
    tidy = normalize_payload(raw)
    assert tidy["nama"] == "MARIA GORETTI"
    assert tidy["nik"] == "6109045708900001"
    assert tidy["rt"] == "001"
    assert tidy["agama"] == "KATHOLIK"
    assert tidy["tanggal_lahir"] == "1990-08-17"
    EnrollmentPayloadSchema().load(tidy)
    assert raw["nama"] == "  maria   goretti "  # the input is not changed
    assert copy.deepcopy(tidy) == normalize_payload(tidy)
