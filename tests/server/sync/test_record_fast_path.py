"""The whole-record fast path (``record_schema.RECORD``) loads exactly what ``RecordSchema``
loads, and is unsure (None) about everything the schema refuses."""

from __future__ import annotations

import copy
import random
import uuid
from typing import Any

import pytest
from marshmallow import ValidationError, fields, post_dump, validates

from server.sync.record_schema import RECORD, RecordLoader
from shared import vocab
from shared.schemas import RecordSchema
from tests.support.records import build_record

SCHEMA = RecordSchema()

#: Values tried in place of each field (and of nested ones): wrong types, edges, near misses.
ODD_VALUES: list[Any] = [
    None, True, False, 0, 1, -1, 2**62, 2**62 + 1, 1.0, "", "x", "A" * 65, [], {}, ["x"],
    "2026-11-27T03:12:45", "2026-11-27T03:12:45+07:00", "2026-11-27T03:12:45.123456Z",
    "2026-02-30T00:00:00Z", "20261127T031245Z", "enrollment", "op.x", "-op", "a" * 64,
    "A" * 64, str(uuid.uuid4()), str(uuid.uuid4()).upper(), "{" + str(uuid.uuid4()) + "}",
    "61.09.04.2006", "1990-08-17", "1990-8-17", "19900817", "PEREMPUAN", "photo",
    "finger_left_thumb", "injured", "amputated", "image/jpeg", "ÉLODIE", "王", "\u2028",
]


def _paths(record: dict[str, Any]) -> list[tuple[Any, ...]]:
    """Every place a value may be changed: top-level keys, payload keys, list items' keys."""
    paths: list[tuple[Any, ...]] = [(key,) for key in record]
    paths += [("payload", key) for key in record["payload"]]
    for name in ("attachments", "exceptions"):
        for index, item in enumerate(record.get(name, [])):
            paths += [(name, index, key) for key in item]
    return paths


def _set(record: dict[str, Any], path: tuple[Any, ...], value: Any) -> None:
    target = record
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value


def _delete(record: dict[str, Any], path: tuple[Any, ...]) -> None:
    target = record
    for step in path[:-1]:
        target = target[step]
    del target[path[-1]]


def _base(rng: random.Random) -> dict[str, Any]:
    count = rng.randint(0, len(vocab.BIOMETRIC_ROLES))
    taken = set(vocab.BIOMETRIC_ROLES[:count])
    free = [role for role in vocab.EXCEPTABLE_ROLES if role not in taken]
    exceptions = [{"role": role, "reason": rng.choice(vocab.EXCEPTION_REASONS)}
                  for role in rng.sample(free, min(len(free), rng.randint(0, 2)))]
    extra: dict[str, Any] = {"exceptions": exceptions}
    if rng.random() < 0.3:
        extra["supersedes"] = rng.choice([None, str(uuid.uuid4())])
    if rng.random() < 0.2:
        extra["captured_at"] = rng.choice(["2026-11-27T10:12:45+07:00",
                                           "2026-11-27T03:12:45.5-01:30"])
    record = build_record(rng.randint(1, 2**62), attachments=count, **extra)
    if rng.random() < 0.2:
        del record["exceptions"]
    return record


def _schema_load(record: dict[str, Any]) -> dict[str, Any] | None:
    try:
        loaded: dict[str, Any] = SCHEMA.load(copy.deepcopy(record))
    except ValidationError:
        return None
    return loaded


def _agrees(record: dict[str, Any]) -> bool:
    """Whether the fast path takes it; asserts it loads what the schema loads."""
    before = copy.deepcopy(record)
    expected = _schema_load(record)
    fast = RECORD.load(record)
    assert record == before  # the input is left as it was
    if expected is None:
        assert fast is None
    elif fast is not None:
        assert fast == expected
        assert fast["captured_at"].tzinfo is not None
    return fast is not None


def test_valid_records_take_the_fast_path_and_load_the_same() -> None:
    rng = random.Random(19)
    for _ in range(300):
        assert _agrees(_base(rng))


def test_every_field_changed_agrees_with_the_schema() -> None:
    rng = random.Random(20)
    taken = 0
    for _ in range(12):
        record = _base(rng)
        for path in _paths(record):
            for value in rng.sample(ODD_VALUES, 6):
                changed = copy.deepcopy(record)
                _set(changed, path, value)
                taken += _agrees(changed)
            removed = copy.deepcopy(record)
            _delete(removed, path)
            taken += _agrees(removed)
    assert taken > 0  # some changes stay valid (a later date, another valid choice)


@pytest.mark.parametrize("spoil", [
    lambda r: r.update(extra=1),
    lambda r: r["payload"].update(extra=1),
    lambda r: r["attachments"].append(dict(r["attachments"][0])),
    lambda r: r["attachments"].extend([{"role": "photo"}] * 20),
    lambda r: r.update(supersedes=r["id"]),
    lambda r: r.update(supersedes=r["id"].upper()),
    lambda r: r.update(exceptions=[{"role": r["attachments"][0]["role"], "reason": "injured"}]),
    lambda r: r.update(exceptions=[{"role": "iris_left", "reason": "injured"}] * 2),
    lambda r: r["payload"].update(nik=r["payload"]["nik"][:-1] + "x"),
    lambda r: r["payload"].update(tanggal_lahir="2999-01-01"),
    lambda r: r.update(captured_at="2026-11-27T03:12:45"),
])
def test_what_the_schema_refuses_the_fast_path_does_not_take(spoil: Any) -> None:
    record = build_record(3, attachments=13, exceptions=[])
    spoil(record)
    assert _schema_load(record) is None
    assert RECORD.load(record) is None


def test_not_a_record_is_not_taken() -> None:
    values: list[Any] = [None, [], "x", 1, {}]
    for value in values:
        assert RECORD.load(value) is None


def test_a_hook_it_cannot_run_stops_the_fast_path_at_import() -> None:
    class Dumping(RecordSchema):
        @post_dump
        def _out(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
            return data

    with pytest.raises(TypeError):
        RecordLoader(Dumping)


def test_hook_kinds_marshmallow_looked_up_but_are_empty_do_not_count() -> None:
    RecordSchema().load(build_record(1))  # marshmallow notes empty pre_load hooks on the class
    assert RecordLoader(RecordSchema).load(build_record(2)) is not None


def test_a_field_it_does_not_know_stops_the_fast_path_at_import() -> None:
    class Wider(RecordSchema):
        note = fields.Dict(load_default=None)

    with pytest.raises(TypeError):
        RecordLoader(Wider)


def test_a_new_field_rule_of_the_schema_is_run() -> None:
    class Stricter(RecordSchema):
        @validates("operator")
        def _no_bench(self, value: str, **_: Any) -> None:
            if value == "op.bench":
                raise ValidationError("no")

    loader = RecordLoader(Stricter)
    assert loader.load(build_record(1, operator="op.bench")) is None
    assert loader.load(build_record(1, operator="op.field")) is not None
