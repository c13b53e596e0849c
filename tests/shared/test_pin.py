"""Operator PINs: six digits, PBKDF2-SHA256, a malformed hash never lets anyone in."""

from __future__ import annotations

import time

import pytest

from shared.errors import InvalidPin, SharedError
from shared.pin import (
    DEFAULT_ITERATIONS,
    MAX_ITERATIONS,
    generate_pin,
    hash_pin,
    is_trivial,
    verify_pin,
)

FAST = 1_000  # tests hash quickly; one test measures the real cost


def test_hash_format_and_verify() -> None:
    encoded = hash_pin("482913", iterations=FAST, salt=bytes(range(16)))
    algorithm, iterations, salt, digest = encoded.split("$")
    assert (algorithm, iterations, salt) == ("pbkdf2_sha256", "1000", bytes(range(16)).hex())
    assert len(digest) == 64
    assert verify_pin("482913", encoded)
    assert not verify_pin("482914", encoded)


def test_same_pin_different_salt_different_hash() -> None:
    assert hash_pin("482913", iterations=FAST) != hash_pin("482913", iterations=FAST)


@pytest.mark.parametrize("pin", ["", "12345", "1234567", "12345a", " 123456", "123456\n",
                                 "١٢٣٤٥٦", "12 345"])
def test_bad_pin_refused(pin: str) -> None:
    with pytest.raises(InvalidPin) as caught:
        hash_pin(pin, iterations=FAST)
    assert caught.value.message == "PIN harus tepat 6 angka."
    assert isinstance(caught.value, SharedError)
    assert not verify_pin(pin, hash_pin("123457", iterations=FAST))


def test_not_a_string_is_refused() -> None:
    with pytest.raises(InvalidPin):
        hash_pin(123456, iterations=FAST)  # type: ignore[arg-type]
    assert not verify_pin(123456, hash_pin("123456", iterations=FAST))  # type: ignore[arg-type]


@pytest.mark.parametrize("encoded", [
    "",
    "garbage",
    "pbkdf2_sha1$1000$00112233445566778899aabbccddeeff$" + "0" * 64,
    "pbkdf2_sha256$0$00112233445566778899aabbccddeeff$" + "0" * 64,
    "pbkdf2_sha256$-5$00112233445566778899aabbccddeeff$" + "0" * 64,
    "pbkdf2_sha256$abc$00112233445566778899aabbccddeeff$" + "0" * 64,
    f"pbkdf2_sha256${MAX_ITERATIONS + 1}$00112233445566778899aabbccddeeff$" + "0" * 64,
    "pbkdf2_sha256$1000$$" + "0" * 64,
    "pbkdf2_sha256$1000$zz112233445566778899aabbccddeeff$" + "0" * 64,
    "pbkdf2_sha256$1000$00112233445566778899aabbccddeeff$" + "0" * 63,
    "pbkdf2_sha256$1000$00112233445566778899aabbccddeeff$" + "0" * 64 + "$x",
    "pbkdf2_sha256$1000$00112233445566778899aabbccddeeff$" + "0" * 64 + "\n",
])
def test_malformed_hash_never_verifies(encoded: str) -> None:
    started = time.perf_counter()
    assert verify_pin("123456", encoded) is False
    assert time.perf_counter() - started < 1  # an absurd iteration count is not even tried


def test_none_hash_never_verifies() -> None:
    assert verify_pin("123456", None) is False  # type: ignore[arg-type]


def test_iterations_and_salt_bounds() -> None:
    with pytest.raises(ValueError):
        hash_pin("482913", iterations=0)
    with pytest.raises(ValueError):
        hash_pin("482913", iterations=MAX_ITERATIONS + 1)
    with pytest.raises(ValueError):
        hash_pin("482913", iterations=FAST, salt=b"short")


def test_default_cost_is_slow_but_bearable() -> None:
    encoded = hash_pin("482913")
    assert f"${DEFAULT_ITERATIONS}$" in encoded
    started = time.perf_counter()
    assert verify_pin("482913", encoded)
    assert 0.02 < time.perf_counter() - started < 3


@pytest.mark.parametrize("pin", ["000000", "999999", "123456", "654321", "012345", "987654",
                                 "890123", "210987"])
def test_trivial_pins(pin: str) -> None:
    assert is_trivial(pin)


@pytest.mark.parametrize("pin", ["482913", "135791", "112233", "123457"])
def test_not_trivial_pins(pin: str) -> None:
    assert not is_trivial(pin)


def test_generated_pins_are_six_digits_varied_and_not_trivial() -> None:
    pins = {generate_pin() for _ in range(300)}
    assert len(pins) > 290
    for pin in pins:
        assert len(pin) == 6 and pin.isdigit() and not is_trivial(pin)
