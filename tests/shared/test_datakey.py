"""The device data key: boxes that open only with it, and keyed NIK hashes."""

from __future__ import annotations

import pytest

from shared.datakey import (
    BOX_OVERHEAD,
    DataKeyError,
    decrypt,
    decrypt_json,
    encrypt,
    encrypt_json,
    new_data_key,
    nik_mac,
)

NIK = "6109011708900001"


def test_round_trip_and_overhead() -> None:
    key = new_data_key()
    box = encrypt(key, b"Nanga Mahap")
    assert b"Nanga Mahap" not in box and len(box) == len(b"Nanga Mahap") + BOX_OVERHEAD
    assert decrypt(key, box) == b"Nanga Mahap"
    assert decrypt_json(key, encrypt_json(key, {"nama": "SITI"})) == {"nama": "SITI"}


def test_other_key_or_tampering_does_not_open() -> None:
    key = new_data_key()
    box = bytearray(encrypt(key, b"rahasia"))
    with pytest.raises(DataKeyError):
        decrypt(new_data_key(), bytes(box))
    box[-1] ^= 1
    with pytest.raises(DataKeyError):
        decrypt(key, bytes(box))
    with pytest.raises(DataKeyError):
        decrypt(key, b"")


def test_a_box_that_is_not_json_is_refused() -> None:
    key = new_data_key()
    with pytest.raises(DataKeyError, match="bukan JSON"):
        decrypt_json(key, encrypt(key, b"\xff\xfe"))


def test_nik_mac_is_keyed_and_stable() -> None:
    key = new_data_key()
    assert nik_mac(key, NIK) == nik_mac(key, NIK)
    assert nik_mac(key, NIK) != nik_mac(key, "6109011708900002")
    assert nik_mac(key, NIK) != nik_mac(new_data_key(), NIK)
    assert NIK not in nik_mac(key, NIK) and len(nik_mac(key, NIK)) == 32
