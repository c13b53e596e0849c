"""Every bad input: a clear error, and nothing written."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from shared.canonical import with_hash
from tests.support.server_app import NOTHING_WRITTEN, assert_problem

PUSH = "/api/v1/sync/push"
Counts = Callable[[], dict[str, int]]
Make = Callable[..., dict[str, Any]]
Seal = Callable[[Any], dict[str, Any]]


def post_raw(client: FlaskClient, headers: dict[str, str], data: bytes,
             **extra: str) -> Any:
    return client.post(PUSH, data=data, headers={**headers, "Content-Type": "application/json",
                                                 **extra})


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"{not json", "bukan JSON"),
        (b"", "kosong"),
        (b'{"records": [NaN]}', "bukan JSON"),
        (b"\xff\xfe\x00garbage", "bukan JSON"),
    ],
)
def test_malformed_json_is_400(
    client: FlaskClient, auth_headers: dict[str, str], row_counts: Counts, body: bytes,
    fragment: str,
) -> None:
    problem = assert_problem(post_raw(client, auth_headers, body), 400, "invalid_input")
    assert fragment in problem["detail"]
    assert row_counts() == NOTHING_WRITTEN


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ({"records": "x"}, "records"),
        ({"records": [1, 2]}, "records"),
        ({"records": []}, "records"),
        ({}, "records"),
        ({"records": [{}], "extra": 1}, "extra"),
    ],
)
def test_body_not_matching_the_schema_is_400_with_field_errors(
    client: FlaskClient, auth_headers: dict[str, str], row_counts: Counts,
    document: dict[str, Any], field: str,
) -> None:
    answer = post_raw(client, auth_headers, json.dumps(document).encode())
    problem = assert_problem(answer, 400, "invalid_input")
    assert field in problem["errors"]
    assert row_counts() == NOTHING_WRITTEN


def test_json_array_is_400(
    client: FlaskClient, auth_headers: dict[str, str], row_counts: Counts, make_record: Make
) -> None:
    answer = post_raw(client, auth_headers, json.dumps([make_record()]).encode())
    assert "objek JSON" in assert_problem(answer, 400, "invalid_input")["detail"]
    assert row_counts() == NOTHING_WRITTEN


def test_gzip_body_is_accepted(
    client: FlaskClient, auth_headers: dict[str, str], make_record: Make, row_counts: Counts,
    seal: Seal,
) -> None:
    body = gzip.compress(json.dumps({"records": [seal(make_record()),
                                                 seal(make_record())]}).encode())
    answer = post_raw(client, auth_headers, body, **{"Content-Encoding": "gzip"})
    assert [r["status"] for r in answer.json["results"]] == ["accepted", "accepted"]
    assert row_counts()["enrollment"] == 2


@pytest.mark.parametrize(
    "body",
    [b"not gzip at all", gzip.compress(b'{"records": []}')[:-6]],
    ids=["garbage", "truncated"],
)
def test_corrupt_gzip_is_400(
    client: FlaskClient, auth_headers: dict[str, str], row_counts: Counts, body: bytes
) -> None:
    answer = post_raw(client, auth_headers, body, **{"Content-Encoding": "gzip"})
    assert "gzip" in assert_problem(answer, 400, "invalid_input")["detail"]
    assert row_counts() == NOTHING_WRITTEN


def test_unknown_content_encoding_is_415(
    client: FlaskClient, auth_headers: dict[str, str], row_counts: Counts
) -> None:
    answer = post_raw(client, auth_headers, b"{}", **{"Content-Encoding": "br"})
    assert_problem(answer, 415, "unsupported_media_type")
    assert row_counts() == NOTHING_WRITTEN


def test_gzip_bomb_is_413(
    app: Flask, client: FlaskClient, auth_headers: dict[str, str], row_counts: Counts
) -> None:
    app.config["MAX_CONTENT_LENGTH"] = 1024 * 1024
    bomb = gzip.compress(b'{"records": ["' + b"A" * (8 * 1024 * 1024) + b'"]}')
    assert len(bomb) < 64 * 1024  # small on the wire, 8 MiB once opened
    answer = post_raw(client, auth_headers, bomb, **{"Content-Encoding": "gzip"})
    assert_problem(answer, 413, "payload_too_large")
    assert row_counts() == NOTHING_WRITTEN


def test_body_over_the_limit_is_413(
    app: Flask, client: FlaskClient, auth_headers: dict[str, str], row_counts: Counts
) -> None:
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024
    body = json.dumps({"records": [{"pad": "x" * 100_000}]}).encode()
    assert_problem(post_raw(client, auth_headers, body), 413, "payload_too_large")
    assert row_counts() == NOTHING_WRITTEN


def test_too_many_records_is_413(
    client: FlaskClient, auth_headers: dict[str, str], row_counts: Counts
) -> None:
    body = json.dumps({"records": [{}] * 1001}).encode()
    problem = assert_problem(post_raw(client, auth_headers, body), 413, "too_many_records")
    assert "1000" in problem["detail"]
    assert row_counts() == NOTHING_WRITTEN


@pytest.mark.parametrize(
    ("payload", "field", "fragment"),
    [
        ({"nik": "610904570890001"}, "nik", "16 angka"),  # 15 digits
        ({"nik": "61090457089000011"}, "nik", "16 angka"),  # 17 digits
        ({"nik": "61090457089OOOO1"}, "nik", "angka"),  # letters O for zeros
        ({"tanggal_lahir": "1990-02-31"}, "tanggal_lahir", "date"),  # 31 February
        ({"nama": "A" * 61}, "nama", "1-60"),
        ({"nama": "maria"}, "nama", "tidak diizinkan"),
        ({"agama": "JEDI"}, "agama", "tidak dikenal"),
        ({"rt": "1"}, "rt", "3 angka"),
    ],
)
def test_invalid_record_is_rejected_with_field_errors_and_not_stored(
    push: Callable[..., Any], make_record: Make, row_counts: Counts,
    payload: dict[str, Any], field: str, fragment: str,
) -> None:
    answer = push([make_record(payload=payload)])
    assert answer.status_code == 200
    result = answer.json["results"][0]
    assert result["status"] == "rejected"
    assert result["errors"]["code"] == "invalid"
    messages = " ".join(result["errors"]["fields"]["payload"][field])
    assert fragment.lower() in messages.lower()
    assert row_counts() == {**NOTHING_WRITTEN, "rejected_push": 1}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"seq": "1"}, "seq"),
        ({"seq": True}, "seq"),
        ({"seq": 0}, "seq"),
        ({"id": "not-a-uuid"}, "id"),
        ({"captured_at": "2026-11-27T03:12:45"}, "captured_at"),  # no time zone
        ({"unknown": 1}, "unknown"),
        ({"type": "other"}, "type"),
    ],
)
def test_wrong_types_at_record_level_are_rejected(
    push: Callable[..., Any], make_record: Make, row_counts: Counts,
    change: dict[str, Any], field: str,
) -> None:
    record = make_record(hashed=False)
    record.update(change)
    result = push([with_hash(record)]).json["results"][0]
    assert (result["status"], result["errors"]["code"]) == ("rejected", "invalid")
    assert field in result["errors"]["fields"]
    assert row_counts()["enrollment"] == 0


def test_attachment_errors_name_the_attachment(
    push: Callable[..., Any], make_record: Make, row_counts: Counts
) -> None:
    record = make_record(hashed=False)
    record["attachments"][1]["size"] = True
    record["attachments"][2]["sha256"] = "ABC"
    result = push([with_hash(record)]).json["results"][0]
    fields = result["errors"]["fields"]["attachments"]
    assert set(fields) == {"1", "2"}
    assert row_counts() == {**NOTHING_WRITTEN, "rejected_push": 1}


def test_an_item_that_is_not_an_envelope_is_rejected_alone(
    push: Callable[..., Any], row_counts: Counts, make_record: Make, seal: Seal
) -> None:
    good = seal(make_record(1))
    answer = push([{"records": 1}, {}, good, {**seal(make_record(2)), "sealed": "***"},
                   {**seal(make_record(3)), "extra": 1}], raw=True)
    results = answer.json["results"]
    assert [r["status"] for r in results] == ["rejected", "rejected", "accepted", "rejected",
                                              "rejected"]
    assert {r["errors"]["code"] for r in results if r["status"] == "rejected"} == {"invalid"}
    assert set(results[1]["errors"]["fields"]) == {"id", "seq", "key_id", "sealed"}
    assert results[3]["errors"]["fields"] == {"sealed": ["Bukan base64 yang sah."]}
    assert "extra" in results[4]["errors"]["fields"]
    # Refused like a malformed record: the seqs it names arrived (no gap), nothing else stored.
    assert row_counts() == {"enrollment": 1, "attachment": 3, "change": 1, "rejected_push": 2}
    assert answer.json["device"] == {"last_seq": 3, "received": 1, "gaps": []}


def test_deeply_nested_json_is_400_not_500(
    client: FlaskClient, auth_headers: dict[str, str], row_counts: Counts
) -> None:
    body = b'{"records": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    problem = assert_problem(post_raw(client, auth_headers, body), 400, "invalid_input")
    assert "dalam" in problem["detail"]
    assert row_counts() == NOTHING_WRITTEN


def test_a_lone_surrogate_refuses_that_record_only(
    client: FlaskClient, auth_headers: dict[str, str], row_counts: Counts, make_record: Make,
    seal: Seal,
) -> None:
    good = make_record(1)
    broken = dict(make_record(2), operator="op.\ud800")  # inside the sealed record
    bad_id = dict(make_record(3), id="\ud800" * 8)  # in the envelope too
    body = json.dumps({"records": [seal(good), seal(broken), seal(bad_id)]}).encode()
    answer = post_raw(client, auth_headers, body)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    statuses = [r["status"] for r in answer.json["results"]]
    assert statuses == ["accepted", "rejected", "rejected"]
    assert answer.json["results"][1]["errors"]["code"] == "invalid"
    counts = row_counts()
    assert counts["enrollment"] == 1
    assert counts["rejected_push"] == 2


@pytest.mark.parametrize("since", ["9223372036854775808", "-1", "abc", "1.5"])
def test_pull_with_an_impossible_cursor_is_400(
    client: FlaskClient, auth_headers: dict[str, str], since: str
) -> None:
    answer = client.get(f"/api/v1/sync/pull?since={since}", headers=auth_headers)
    problem = assert_problem(answer, 400, "invalid_input")
    assert "since" in problem["errors"]
