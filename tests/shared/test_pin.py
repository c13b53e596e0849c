"""Operator PINs: eight digits, an Argon2id key that unwraps the data key, and no PIN hash."""

from __future__ import annotations

import pytest

from shared.errors import InvalidPin, SharedError
from shared.pin import (
    KDF_COST,
    TEST_KDF_COST,
    KdfCost,
    WrongPin,
    check_cost,
    check_pin,
    derive_key,
    generate_pin,
    is_trivial,
    new_salt,
    unwrap_key,
    wrap_key,
)

PIN = "48291573"


def test_derived_key_unwraps_only_with_the_right_pin() -> None:
    salt = new_salt()
    data_key = bytes(range(32))
    wrap = wrap_key(data_key, derive_key(PIN, salt, TEST_KDF_COST))
    assert data_key not in wrap
    assert unwrap_key(wrap, derive_key(PIN, salt, TEST_KDF_COST)) == data_key
    with pytest.raises(WrongPin) as caught:
        unwrap_key(wrap, derive_key("48291574", salt, TEST_KDF_COST))
    assert str(caught.value) == "PIN salah"


def test_same_pin_other_salt_other_key() -> None:
    assert derive_key(PIN, new_salt(), TEST_KDF_COST) != derive_key(PIN, new_salt(), TEST_KDF_COST)
    salt = new_salt()
    assert derive_key(PIN, salt, TEST_KDF_COST) == derive_key(PIN, salt, TEST_KDF_COST)


def test_wraps_are_fresh_each_time() -> None:
    key = derive_key(PIN, new_salt(), TEST_KDF_COST)
    assert wrap_key(b"\x01" * 32, key) != wrap_key(b"\x01" * 32, key)


@pytest.mark.parametrize("wrapped", [b"", b"short", b"\x00" * 72])
def test_damaged_wrap_is_a_wrong_pin(wrapped: bytes) -> None:
    with pytest.raises(WrongPin):
        unwrap_key(wrapped, derive_key(PIN, new_salt(), TEST_KDF_COST))


@pytest.mark.parametrize("pin", ["", "1234567", "123456789", "123456", "1234567a", " 1234567",
                                 "12345678\n", "١٢٣٤٥٦٧٨", "1234 567"])
def test_bad_pin_refused(pin: str) -> None:
    with pytest.raises(InvalidPin) as caught:
        derive_key(pin, new_salt(), TEST_KDF_COST)
    assert caught.value.message == "PIN harus tepat 8 angka."
    assert isinstance(caught.value, SharedError)


def test_not_a_string_is_refused() -> None:
    with pytest.raises(InvalidPin):
        check_pin(48291573)


def test_production_cost_meets_the_floor() -> None:
    assert KDF_COST.memlimit >= 64 * 1024 * 1024
    assert check_cost(KDF_COST) == KDF_COST


@pytest.mark.parametrize("cost", [TEST_KDF_COST,
                                  KdfCost(KDF_COST.opslimit - 1, KDF_COST.memlimit),
                                  KdfCost(KDF_COST.opslimit, KDF_COST.memlimit // 2)])
def test_lowered_cost_is_refused_unless_testing(cost: KdfCost) -> None:
    with pytest.raises(ValueError, match="below the minimum"):
        check_cost(cost)
    assert check_cost(cost, allow_test=True) == cost


@pytest.mark.parametrize("pin", ["00000000", "99999999", "12345678", "87654321", "01234567",
                                 "98765432", "89012345", "21098765"])
def test_trivial_pins(pin: str) -> None:
    assert is_trivial(pin)


@pytest.mark.parametrize("pin", ["48291573", "13579135", "11223344", "12345679"])
def test_not_trivial_pins(pin: str) -> None:
    assert not is_trivial(pin)


def test_generated_pins_are_eight_digits_varied_and_not_trivial() -> None:
    pins = {generate_pin() for _ in range(300)}
    assert len(pins) > 295
    for pin in pins:
        assert len(pin) == 8 and pin.isdigit() and not is_trivial(pin)
