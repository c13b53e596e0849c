"""The office key ring: made once with mode 0600, rotated without losing the old keys, and its
fingerprint the same on the office's code and the laptop's registration."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner

from server.core import keyring
from server.core.errors import KeyRingMissing
from shared.sealing import SealError, b64, fingerprint, open_sealed, seal


def test_the_key_ring_is_made_once_and_only_its_owner_reads_it(app: Flask) -> None:
    path = keyring.path_of(app)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    first = keyring.load(path)
    again, made = keyring.ensure(path)
    assert not made and again.current == first.current
    assert again.sealing.public == first.sealing.public


def test_rotating_keeps_the_old_keys_so_old_seals_still_open(app: Flask,
                                                            runner: FlaskCliRunner) -> None:
    path = keyring.path_of(app)
    before = keyring.load(path)
    sealed_before = seal(before.sealing.public, b"rekaman lama")
    outcome = runner.invoke(args=["rotate-key"])
    assert outcome.exit_code == 0, outcome.output
    after = keyring.load(path)
    assert after.current != before.current and before.current in after.keys
    assert after.sealing.fingerprint in outcome.output
    assert after.open(before.current, sealed_before) == b"rekaman lama"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with pytest.raises(SealError):
        after.open(after.current, sealed_before)  # sealed to the old key, not the new one
    with pytest.raises(SealError):
        after.open("no-such-key", sealed_before)


def test_a_tampered_or_cut_seal_does_not_open() -> None:
    key = keyring.new_sealing_key()
    sealed = bytearray(seal(key.public, b"x" * 100))
    sealed[60] ^= 1
    with pytest.raises(SealError):
        open_sealed(key.secret, bytes(sealed))
    with pytest.raises(SealError):
        open_sealed(key.secret, bytes(sealed[:40]))
    sealed[60] ^= 1
    assert open_sealed(key.secret, bytes(sealed)) == b"x" * 100


def test_device_code_and_registration_give_the_same_fingerprint(
    app: Flask, runner: FlaskCliRunner, client: object
) -> None:
    printed = runner.invoke(args=["device-code", "--team", "TIM-A"])
    assert printed.exit_code == 0, printed.output
    shown = re.search(r"Sidik jari kunci kantor: ([0-9a-f ]{24})", printed.output)
    code = re.search(r"[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}", printed.output)
    assert shown and code
    answer = client.post("/api/v1/devices",  # type: ignore[attr-defined]
                         json={"code": code.group(0), "name": "laptop-1"})
    assert answer.status_code == 201, answer.json
    office_key = answer.json["office_key"]
    with app.app_context():
        ring = keyring.current()
    assert office_key == {"kid": ring.current, "public": b64(ring.sealing.public)}
    assert fingerprint(ring.sealing.public) == shown.group(1).strip()


def test_a_missing_key_ring_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(KeyRingMissing, match="jemput-server init"):
        keyring.load(tmp_path / "nowhere.json")
