"""Integers from a query string are bounded before SQL (a clear 400, never a 500), and a body
over the request limit is a 413 whether it came with a Content-Length or chunked."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient

from tests.support.office import token_for
from tests.support.wsgi_thread import serving

HUGE = "9223372036854775807"
OFFICE = "/api/v1/office"
#: Every office list that reads numbers from its query string, with each of those parameters.
NUMERIC_PARAMETERS = [
    ("/print/queue", "limit"), ("/print/queue", "age_min"), ("/print/queue", "age_max"),
    ("/print/queue", "page"), ("/print/queue", "after"), ("/print/jobs", "limit"),
    ("/print/jobs", "after"), ("/blanko/entries", "limit"), ("/blanko/entries", "after"),
    ("/blanko", "days"), ("/suket", "limit"), ("/suket", "after"), ("/cases", "limit"),
    ("/cases", "after"), ("/records", "limit"), ("/coverage", "trend_days"),
]


@pytest.mark.parametrize(("path", "parameter"), NUMERIC_PARAMETERS)
def test_an_integer_too_large_for_sql_is_a_400(
    app: Flask, client: FlaskClient, path: str, parameter: str
) -> None:
    headers = token_for(app, "sari", "supervisor")
    for value in (HUGE, f"-{HUGE}", "99999999999999999999999", "1e400", "²"):
        answer = client.get(f"{OFFICE}{path}?{parameter}={value}", headers=headers)
        assert answer.status_code == 400, (path, parameter, value, answer.get_data()[:300])
        assert answer.json["code"] in ("invalid_input", "bad_request")


def test_the_office_pages_bound_their_numbers_too(app: Flask, client: FlaskClient) -> None:
    from tests.support.office import login

    login(client, app, "sari", "supervisor")
    for path in (f"/office/print?limit={HUGE}", f"/office/print?after={HUGE}",
                 f"/office/print?age_min={HUGE}", f"/office/blanko?after={HUGE}",
                 "/office/blanko?limit=0", f"/office/suket?after={HUGE}|x",
                 f"/office/cases?after={HUGE}"):
        answer = client.get(path)
        assert answer.status_code in (400, 404), path
        assert "Kesalahan internal" not in answer.get_data(as_text=True)


@pytest.fixture
def small_limit_app(app: Flask) -> Iterator[Flask]:
    """The app with a 64 KiB request limit, so an oversized body stays small."""
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024
    yield app


def _chunks(size: int, piece: int = 4096) -> Iterator[bytes]:
    sent = 0
    while sent < size:
        part = min(piece, size - sent)
        yield b" " * part
        sent += part


def test_a_chunked_body_over_the_limit_is_413_like_one_with_a_length(
    small_limit_app: Flask, auth_headers: dict[str, str],
    row_counts: Callable[[], dict[str, int]], make_record: Callable[..., dict[str, object]],
    seal: Callable[[object], dict[str, object]],
) -> None:
    before = row_counts()
    record = json.dumps({"records": [seal(make_record(1))]}).encode()
    # Valid JSON padded with spaces past the limit: cut at the limit it would still parse.
    limit = small_limit_app.config["MAX_CONTENT_LENGTH"]
    padding = limit + 10 - len(record)
    with serving(small_limit_app) as url:
        headers = {**auth_headers, "Content-Type": "application/json"}

        def body() -> Iterator[bytes]:
            yield record
            yield from _chunks(padding)

        chunked = requests.post(f"{url}/api/v1/sync/push", data=body(), headers=headers,
                                timeout=30)
        sized = requests.post(f"{url}/api/v1/sync/push", data=record + b" " * padding,
                              headers=headers, timeout=30)
    assert chunked.status_code == sized.status_code == 413, chunked.text[:300]
    assert chunked.json()["code"] == "payload_too_large"
    assert row_counts() == before
