"""Canonical JSON and the record hash are exactly the design's definition."""

import hashlib
import io
import json

from shared.canonical import canonical_json, record_sha256, sha256_file, sha256_stream, with_hash


def test_canonical_json_is_sorted_compact_utf8() -> None:
    assert canonical_json({"b": 1, "a": "é", "c": [1, {"z": 0, "y": None}]}) == (
        '{"a":"é","b":1,"c":[1,{"y":null,"z":0}]}'.encode()
    )


def test_record_hash_matches_the_design_formula() -> None:
    record = {"id": "x", "seq": 1, "payload": {"nama": "MARIA"}, "record_sha256": "ignored"}
    body = {k: v for k, v in record.items() if k != "record_sha256"}
    expected = hashlib.sha256(
        json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    ).hexdigest()
    assert record_sha256(record) == expected


def test_seal_is_idempotent_and_detects_change() -> None:
    sealed = with_hash({"id": "x", "seq": 1})
    assert with_hash(sealed) == sealed
    tampered = dict(sealed, seq=2)
    assert record_sha256(tampered) != sealed["record_sha256"]


def test_file_and_stream_hashes(tmp_path) -> None:  # type: ignore[no-untyped-def]
    data = b"\x00\xff" * 700_000
    path = tmp_path / "finger.wsq"
    path.write_bytes(data)
    assert sha256_file(path) == (hashlib.sha256(data).hexdigest(), len(data))
    assert sha256_stream(io.BytesIO(b"")) == (hashlib.sha256(b"").hexdigest(), 0)
