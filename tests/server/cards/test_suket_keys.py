"""The Suket QR key: its own key id in the office key ring, apart from the session key, and
rotated without breaking a printed QR code. A token printed before Suket keys (``<id>.<mac>``
under the secret key), a token of the previous Suket key and a new one all verify; anything
else is the one same 404, checked in constant time even for an unknown key id."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from server.cards import suket
from server.core import keyring
from server.core.extensions import dispose_engines
from tests.support.server_app import assert_problem, make_app
from tests.support.suket import SUPERVISOR, approved_record

JSON = {"Accept": "application/json"}
UNKNOWN = "Suket dengan kode ini tidak dikenal."


def old_format_token(secret_key: str, suket_id: int, number: str) -> str:
    """A token as printed before Suket keys: HMAC-SHA256 of ``suket:<id>:<number>`` under the
    app's secret key, 18 bytes in base64url, no key id."""
    digest = hmac.new(secret_key.encode(), f"suket:{suket_id}:{number}".encode(),
                      hashlib.sha256).digest()
    return f"{suket_id}.{base64.urlsafe_b64encode(digest[:18]).decode().rstrip('=')}"


def _status(client: FlaskClient, token: str) -> str:
    answer = client.get(f"/verify/{token}", headers=JSON)
    assert answer.status_code == 200, (token, answer.json)
    body = answer.json or {}
    return str(body["status"])


def _unknown(client: FlaskClient, token: str) -> None:
    problem = assert_problem(client.get(f"/verify/{token}", headers=JSON), 404, "not_found")
    assert problem["detail"] == UNKNOWN
    assert client.get(f"/verify/{token}").status_code == 404


def test_old_previous_and_new_tokens_verify_after_rotation(
    app: Flask, client: FlaskClient, runner: FlaskCliRunner, push: Callable[..., Any],
    make_record: Callable[..., Any],
) -> None:
    record_id = approved_record(app, push, make_record)
    with app.app_context():
        made = suket.issue(record_id, SUPERVISOR)
        first = keyring.current().suket
        assert first is not None
        previous = suket.token_for(made.id, made.number)
    old = old_format_token(str(app.config["SECRET_KEY"]), made.id, made.number)
    assert previous.split(".")[1] == first.kid  # the token names its key
    assert old.count(".") == 1

    rotated = runner.invoke(args=["rotate-suket-key"])
    assert rotated.exit_code == 0, rotated.output
    with app.app_context():
        ring = keyring.current()
        assert ring.suket is not None and ring.suket.kid != first.kid
        assert set(ring.suket_keys) == {first.kid, ring.suket.kid}  # the old one stays
        assert ring.suket.kid in rotated.output
        new = suket.token_for(made.id, made.number)
    assert new.split(".")[1] == ring.suket.kid and new != previous

    for token in (old, previous, new):
        assert _status(client, token) == "valid"

    kid, mac = new.split(".")[1:]
    with app.app_context():
        elsewhere = suket.token_with(keyring.new_suket_key(), made.id, made.number)
        same_kid_other_secret = suket.token_with(
            keyring.SuketKey(kid, b"\x01" * 32, ""), made.id, made.number)
    forged = [
        new[:-1] + ("A" if new[-1] != "A" else "B"),
        f"{made.id}.{first.kid}.{mac}",  # the new mac under the previous key id
        old[:-1] + ("A" if old[-1] != "A" else "B"),  # an altered old-format token
        old_format_token("another-office", made.id, made.number),
        f"{made.id}.{mac}",  # a keyed mac presented as an old-format one
        elsewhere, same_kid_other_secret,
        f"{made.id}.s00000000.{mac}", f"{made.id}.S{kid[1:]}.{mac}", f"{made.id}.{kid}.",
        f"{made.id}.{kid}.{mac}.{mac}", f"{made.id + 1}.{kid}.{mac}",
    ]
    for token in forged:
        _unknown(client, token)


def test_the_suket_key_is_not_the_session_key(
    app: Flask, client: FlaskClient, push: Callable[..., Any], make_record: Callable[..., Any],
) -> None:
    """Rotating the session key (``JEMPUT_SECRET_KEY``) keeps every keyed QR code valid; only
    tokens printed before Suket keys depend on it."""
    record_id = approved_record(app, push, make_record)
    with app.app_context():
        made = suket.issue(record_id, SUPERVISOR)
        token = suket.token_for(made.id, made.number)
    old = old_format_token(str(app.config["SECRET_KEY"]), made.id, made.number)
    app.config["SECRET_KEY"] = "a-new-session-key"
    assert _status(client, token) == "valid"
    _unknown(client, old)


def test_an_unknown_key_id_is_still_compared_in_constant_time(
    app: Flask, client: FlaskClient, push: Callable[..., Any], make_record: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    record_id = approved_record(app, push, make_record)
    with app.app_context():
        made = suket.issue(record_id, SUPERVISOR)
        token = suket.token_for(made.id, made.number)
    compared: list[tuple[str, str]] = []
    real = hmac.compare_digest

    def compare(a: str, b: str) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(suket.hmac, "compare_digest", compare)
    _id, kid, mac = token.split(".")
    for bad in (f"{made.id}.s00000000.{mac}", f"{made.id}.{mac}", f"99999.{kid}.{mac}"):
        compared.clear()
        _unknown(client, bad)
        assert compared and all(len(a) == len(b) == 24 for a, b in compared)


def test_a_suket_issued_on_one_host_verifies_on_another(
    app: Flask, client: FlaskClient, runner: FlaskCliRunner, push: Callable[..., Any],
    make_record: Callable[..., Any], tmp_path: Path,
) -> None:
    """Another app over the same database and key ring (another host, its own instance
    folder): the keys come from the ring, read again after a rotation made elsewhere."""
    url = str(app.config["SQLALCHEMY_DATABASE_URI"])
    ring = str(keyring.path_of(app))
    other = make_app(tmp_path / "other-host", url, JEMPUT_KEYRING=ring,
                     SECRET_KEY=app.config["SECRET_KEY"],
                     JEMPUT_BLOB_DIR=app.config["JEMPUT_BLOB_DIR"])
    try:
        record_id = approved_record(app, push, make_record)
        with other.app_context():
            other.extensions["sqlalchemy"].session.remove()
        with app.app_context():
            made = suket.issue(record_id, SUPERVISOR)
            before = suket.token_for(made.id, made.number)
        assert _status(other.test_client(), before) == "valid"
        assert runner.invoke(args=["rotate-suket-key"]).exit_code == 0  # on the first host
        with other.app_context():
            after = suket.token_for(made.id, made.number)  # the other host signs with the new
        assert after != before
        assert _status(client, after) == "valid"
        assert _status(other.test_client(), before) == "valid"
    finally:
        dispose_engines(other)


def test_an_older_ring_gets_a_suket_key_when_loaded(tmp_path: Path) -> None:
    path = tmp_path / "keyring.json"
    ring, made = keyring.ensure(path)
    assert made and ring.suket is not None and ring.audit is not None
    document = json.loads(path.read_text())
    for name in ("suket", "suket_current"):
        del document[name]
    path.write_text(json.dumps(document))
    assert keyring.load(path).suket is None
    upgraded, made = keyring.ensure(path)
    assert not made and upgraded.suket is not None
    assert upgraded.current == ring.current and upgraded.audit == ring.audit  # the rest kept
    again, _ = keyring.ensure(path)
    assert again.suket == upgraded.suket  # added once, not again
