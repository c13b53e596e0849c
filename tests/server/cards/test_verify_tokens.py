"""/verify/<token>: forged, altered, malformed and foreign tokens are one and the same 404."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from server.cards import suket
from server.core import keyring
from shared.display import mask_name
from tests.support.server_app import assert_problem
from tests.support.suket import SUPERVISOR, approved_record, counts

JSON = {"Accept": "application/json"}


def test_mask_name() -> None:
    assert mask_name("MARIA GORETTI") == "MAR** GOR****"
    assert mask_name("  SITI  ANI A ") == "SI** AN* A"
    assert mask_name("") == ""


def test_only_issued_tokens_verify(app: Flask, client: FlaskClient, push: Callable[..., Any],
                                   make_record: Callable[..., Any]) -> None:
    ids = [approved_record(app, push, make_record) for _ in range(2)]
    with app.app_context():
        one, two = (suket.issue(record_id, SUPERVISOR) for record_id in ids)
        token, other = suket.token_for(one.id, one.number), suket.token_for(two.id, two.number)
        # Same id, number and key id under another key: not ours.
        ours = keyring.current().suket
        assert ours is not None
        foreign = suket.token_with(keyring.SuketKey(ours.kid, b"another-office" * 3, ""),
                                   one.id, one.number)
    assert len(token.split(".")[2]) == 24  # 144 bits of HMAC-SHA256
    assert client.get(f"/verify/{token}", headers=JSON).json["status"] == "valid"
    before = counts(app)
    kid, mac = token.split(".")[1:]
    forged = [
        foreign,
        token[:-1] + ("A" if token[-1] != "A" else "B"),  # one character altered
        f"{two.id}.{kid}.{mac}",  # another Suket's id with this mac
        f"{one.id}.{kid}.{other.split('.')[2]}", f"{one.id}.{mac}", f"{one.id}.s00000000.{mac}",
        f"abc.{mac}", f"{one.id}x.{mac}", f"0{one.id}.{mac}", f"-{one.id}.{mac}",
        f"{one.id}.{mac}A", f"{one.id}.{mac[:-1]}", f"{one.id}.", f"{one.id}", mac,
        f"99999999.{mac}", f"{'9' * 40}.{mac}", f"{one.id}.{mac}.{mac}",
        f"{one.id}.{mac[:-1]}=",
    ]
    bodies = set()
    for bad in forged:
        answer = client.get(f"/verify/{bad}", headers=JSON)
        problem = assert_problem(answer, 404, "not_found")
        assert answer.headers["Cache-Control"] == "no-store"
        bodies.add(problem["detail"])
        page = client.get(f"/verify/{bad}")
        assert page.status_code == 404
        assert "tidak dikenal" in page.get_data(as_text=True)
        assert "noindex" in page.headers["X-Robots-Tag"]
    assert bodies == {"Suket dengan kode ini tidak dikenal."}  # never says why
    assert counts(app) == before


def test_the_view_is_minimal(app: Flask, client: FlaskClient, push: Callable[..., Any],
                             make_record: Callable[..., Any]) -> None:
    record_id = approved_record(app, push, make_record)
    with app.app_context():
        made = suket.issue(record_id, SUPERVISOR)
        token = suket.token_for(made.id, made.number)
    page = client.get(f"/verify/{token}").get_data(as_text=True)
    assert made.nik[-4:] in page and made.nik not in page
    for secret in ("MARIA GORETTI", "DUSUN TEMBAGA", "SEKADAU", record_id, "KATHOLIK"):
        assert secret not in page
    body = client.get(f"/verify/{token}", headers=JSON).json
    assert body["nik_last4"] == made.nik[-4:]
    assert made.nik not in str(body) and record_id not in str(body)


@pytest.mark.parametrize("path", ["/verify/", "/verify/a/b"])
def test_no_token_is_not_found(client: FlaskClient, path: str) -> None:
    assert client.get(path, headers=JSON).status_code == 404


def test_openapi_lists_verify_without_security(client: FlaskClient) -> None:
    spec = client.get("/api/v1/openapi.json").json
    assert spec["paths"]["/verify/{token}"]["get"]["security"] == []
    assert "/api/v1/office/suket" in spec["paths"]
