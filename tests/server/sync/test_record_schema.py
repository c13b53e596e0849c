"""The ingest's fast record schema accepts and loads exactly what the shared schema does."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from marshmallow import ValidationError

from server.sync.record_schema import ATTACHMENT, PAYLOAD, IngestRecordSchema
from shared.schemas import AttachmentSchema, EnrollmentPayloadSchema, RecordSchema
from tests.support.records import build_record

GOOD_ATTACHMENT = {"role": "photo", "sha256": "a" * 64, "size": 1, "media_type": "image/jpeg"}
ATTACHMENT_VARIANTS = [
    {},
    {"size": 0},
    {"size": 20 * 1024 * 1024},
    {"size": 20 * 1024 * 1024 + 1},
    {"size": True},
    {"size": 1.0},
    {"size": "1"},
    {"size": None},
    {"role": "tail"},
    {"role": 1},
    {"sha256": "A" * 64},
    {"sha256": "a" * 63},
    {"sha256": "a" * 64 + "\n"},
    {"media_type": "image/gif"},
    {"extra": 1},
]


@pytest.mark.parametrize("change", ATTACHMENT_VARIANTS)
def test_attachment_fast_path_agrees_with_the_schema(change: dict[str, Any]) -> None:
    value = {**GOOD_ATTACHMENT, **change}
    expected = AttachmentSchema().validate(value) == {}
    assert (ATTACHMENT.load(value) is not None) is expected
    assert (ATTACHMENT.load_many([GOOD_ATTACHMENT, value]) is not None) is expected
    missing = {k: v for k, v in GOOD_ATTACHMENT.items() if k != "role"}
    assert ATTACHMENT.load(missing) is None
    assert ATTACHMENT.load_many("x") is None and ATTACHMENT.load_many([1]) is None


PAYLOAD_VARIANTS = [
    {},
    {"nik": "6109045708900000"},
    {"nik": "610904570890001"},
    {"nik": 6109045708900001},
    {"tanggal_lahir": "1990-02-31"},
    {"tanggal_lahir": "2999-01-01"},
    {"nama": "x"},
    {"nama": "A" * 61},
    {"rt": "01"},
    {"golongan_darah": "Z"},
    {"desa_kode": "61.09.04"},
]


@pytest.mark.parametrize("change", PAYLOAD_VARIANTS)
def test_payload_fast_path_agrees_with_the_schema(change: dict[str, Any]) -> None:
    value = {**build_record(1)["payload"], **change}
    schema = EnrollmentPayloadSchema()
    try:
        expected: dict[str, Any] | None = schema.load(value)
    except ValidationError:
        expected = None
    assert PAYLOAD.load(value) == expected


@pytest.fixture
def record() -> dict[str, Any]:
    return build_record(5, attachments=13)


@pytest.mark.parametrize(
    "spoil",
    [
        lambda r: None,
        lambda r: r["attachments"].append(dict(r["attachments"][0])),  # role twice
        lambda r: r["exceptions"].append({"role": "iris_left", "reason": "injured"}),
        lambda r: r["attachments"][3].update(size=-1),
        lambda r: r["payload"].update(nik="61090457089O0001"),
        lambda r: r.update(attachments="x"),
        lambda r: r.update(payload=[]),
    ],
)
def test_record_loads_and_errors_are_the_shared_schema_s(
    record: dict[str, Any], spoil: Callable[[dict[str, Any]], None]
) -> None:
    spoil(record)
    outcomes = []
    for schema in (RecordSchema(), IngestRecordSchema()):
        try:
            outcomes.append(("ok", schema.load(copy.deepcopy(record))))
        except ValidationError as exc:
            outcomes.append(("error", exc.messages))
    assert outcomes[0] == outcomes[1]
