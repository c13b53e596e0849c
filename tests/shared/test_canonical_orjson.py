"""canonical_json (orjson) writes the very bytes of the standard library's definition.

The record hash is computed by the field laptop and by the server, and audit anchors are
signed over canonical JSON: one byte of difference would refuse every record (or anchor).
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import json
import random
import uuid
from typing import Any

import pytest

from shared import vocab
from shared.canonical import canonical_json, canonical_json_stdlib, record_sha256, with_hash

#: Characters a name, an address or a hostile client may send: ASCII with quotes, backslashes
#: and control characters, Latin accents, Arabic, CJK, U+2028/2029, and astral emoji.
ALPHABET = (
    [chr(c) for c in range(0x00, 0x80)]
    + list("éÉèçñÑüÖåøÆßŁłŻżĞğŞşİı")
    + list("محمد عبد الله")
    + list("王李张刘陈杨黄赵")
    + ["\u2028", "\u2029", "\ufeff", "\u00a0", "\u200b", "\U0001f600", "\U0001f1ee\U0001f1e9"]
)


def text(rng: random.Random, longest: int = 24) -> str:
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, longest)))


def integer(rng: random.Random) -> int:
    return rng.choice([0, 1, -1, rng.randint(-(2**31), 2**31), rng.randint(1, 2**62),
                       -(2**63), 2**63 - 1, 2**64 - 1, rng.randint(-(2**63), 2**64 - 1)])


def record(rng: random.Random) -> dict[str, Any]:
    """A record of the wire format with random content (non-ASCII names included)."""
    roles = rng.sample(vocab.BIOMETRIC_ROLES, rng.randint(0, len(vocab.BIOMETRIC_ROLES)))
    body: dict[str, Any] = {
        "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "seq": rng.randint(1, 2**62),
        "type": "enrollment",
        "captured_at": f"2026-11-{rng.randint(10, 28)}T0{rng.randint(0, 9)}:12:45Z",
        "operator": text(rng, 12),
        "payload": {
            "nik": "".join(rng.choice("0123456789") for _ in range(16)),
            "nama": rng.choice(["MARÍA JOSÉ", "ŁUKASZ ŻÓŁW", "王小明", "NUR 'AINI", text(rng)]),
            "tempat_lahir": text(rng), "tanggal_lahir": "1987-03-05",
            "alamat": text(rng, 100), "rt": "001", "rw": "002", "desa_kode": "61.09.04.2006",
        },
        "attachments": [
            {"role": role, "sha256": hashlib.sha256(text(rng).encode("utf-8", "replace"))
             .hexdigest(), "size": integer(rng), "media_type": "image/x-wsq"}
            for role in roles
        ],
        "exceptions": [{"role": text(rng, 8), "reason": text(rng, 8)}
                       for _ in range(rng.randint(0, 2))],
    }
    if rng.random() < 0.3:
        body["supersedes"] = rng.choice([None, str(uuid.uuid4())])
    if rng.random() < 0.3:
        body[text(rng, 6)] = rng.choice([True, False, None, [], {}, integer(rng), text(rng)])
    return with_hash(body) if rng.random() < 0.5 else body


def test_orjson_writes_the_standard_bytes_on_many_generated_records() -> None:
    rng = random.Random(19)
    for _ in range(3000):
        value = record(rng)
        assert canonical_json(value) == canonical_json_stdlib(value)


def test_record_hash_is_the_design_formula_on_many_records() -> None:
    rng = random.Random(20)
    for _ in range(500):
        value = record(rng)
        body = {k: v for k, v in value.items() if k != "record_sha256"}
        expected = hashlib.sha256(json.dumps(
            body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()).hexdigest()
        assert record_sha256(value) == expected


def test_every_string_escape_is_the_same() -> None:
    every = "".join(chr(c) for c in range(0x0, 0xD800)) + "".join(
        chr(c) for c in range(0xE000, 0x11000))
    assert canonical_json({"s": every}) == canonical_json_stdlib({"s": every})


def _nested(depth: int) -> Any:
    value: Any = {"x": 1}
    for _ in range(depth):
        value = [value]
    return value


DEEP = _nested(300)


class Colour(enum.IntEnum):
    RED = 1


class Word(str):
    pass


@pytest.mark.parametrize("value", [
    {"big": 2**64},  # past 64 bits: orjson refuses it, json writes it
    {"small": -(2**63) - 1},
    {2: "int keys", 1: "a"},  # json makes the keys strings
    {"enum": Colour.RED, "word": Word("w")},  # subclasses: json's own spelling
    [("tuple", 1), ["list", 2]],
    {"deep": DEEP},  # deeper than orjson goes
])
def test_what_orjson_refuses_goes_to_json(value: Any) -> None:
    assert canonical_json(value) == canonical_json_stdlib(value)


def test_a_lone_surrogate_raises_as_before() -> None:
    with pytest.raises(UnicodeEncodeError):
        canonical_json({"nama": "\ud800"})
    with pytest.raises(UnicodeEncodeError):
        record_sha256({"nama": "A\udfff"})


def test_what_json_cannot_encode_still_raises() -> None:
    with pytest.raises(TypeError):
        canonical_json({"at": dt.datetime(2026, 12, 7)})
    with pytest.raises(TypeError):
        canonical_json({"bytes": b"x"})


def test_keys_that_mix_types_still_raise() -> None:
    with pytest.raises(TypeError):
        canonical_json({1: "a", "b": 2})
