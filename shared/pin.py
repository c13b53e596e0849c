"""Operator PINs: eight digits, and the key a PIN derives (Argon2id), which unwraps the laptop's
data key.

A laptop keeps no PIN hash. The office derives a key from each new PIN (libsodium's Argon2id,
through PyNaCl) and wraps the device's data key (DK) with it; the laptop derives the same key
from the PIN the operator types and unwraps DK: a wrong PIN does not unwrap. The cost below is
fixed here for both sides; a copied laptop costs an attacker one derivation per guess.
"""

from __future__ import annotations

import itertools
import re
import secrets
from dataclasses import dataclass

from nacl.exceptions import CryptoError
from nacl.pwhash import argon2id
from nacl.secret import SecretBox

from shared.errors import InvalidPin, SharedError

PIN_DIGITS = 8
#: Use with ``fullmatch``: ``$`` alone would let a trailing newline through.
PIN_RE = re.compile(r"^[0-9]{8}$")
SALT_BYTES = argon2id.SALTBYTES
KEY_BYTES = SecretBox.KEY_SIZE


@dataclass(frozen=True)
class KdfCost:
    """Argon2id's work per derivation: passes (``opslimit``) over ``memlimit`` bytes."""

    opslimit: int
    memlimit: int


#: Measured on the project's 2-core machine: 0.27-0.33 s and 128 MiB a derivation (a login).
KDF_COST = KdfCost(opslimit=4, memlimit=128 * 1024 * 1024)
#: libsodium's floor: for tests only. A production configuration refuses anything below KDF_COST.
TEST_KDF_COST = KdfCost(opslimit=argon2id.OPSLIMIT_MIN, memlimit=argon2id.MEMLIMIT_MIN)


class WrongPin(SharedError):
    """The PIN did not unwrap the key: wrong PIN (or a damaged wrap)."""


def generate_pin() -> str:
    """A random eight-digit PIN that is not trivial (not one digit repeated, not a run)."""
    while True:
        pin = f"{secrets.randbelow(10**PIN_DIGITS):0{PIN_DIGITS}d}"
        if not is_trivial(pin):
            return pin


def is_trivial(pin: str) -> bool:
    """One digit repeated, or a run of consecutive digits up or down (wrapping 9 -> 0)."""
    steps = {(int(b) - int(a)) % 10 for a, b in itertools.pairwise(pin)}
    return len(steps) == 1 and steps <= {0, 1, 9}


def check_pin(pin: object) -> str:
    """``pin`` when it is eight digits; :class:`InvalidPin` otherwise."""
    if not isinstance(pin, str) or not PIN_RE.fullmatch(pin):
        raise InvalidPin()
    return pin


def check_cost(cost: KdfCost, *, allow_test: bool = False) -> KdfCost:
    """``cost`` when it is at least :data:`KDF_COST` (or, with ``allow_test``, libsodium's
    floor); ``ValueError`` otherwise: a lowered cost would make a copied laptop cheap to crack."""
    floor = TEST_KDF_COST if allow_test else KDF_COST
    if cost.opslimit < floor.opslimit or cost.memlimit < floor.memlimit:
        raise ValueError(f"Argon2id cost {cost} is below the minimum {floor}")
    return cost


def new_salt() -> bytes:
    """A fresh random salt for one operator's PIN."""
    return secrets.token_bytes(SALT_BYTES)


def derive_key(pin: str, salt: bytes, cost: KdfCost) -> bytes:
    """The 32-byte key an eight-digit ``pin`` derives with ``salt`` at ``cost`` (Argon2id)."""
    check_pin(pin)
    return bytes(argon2id.kdf(KEY_BYTES, pin.encode("ascii"), salt,
                              opslimit=cost.opslimit, memlimit=cost.memlimit))


def wrap_key(data_key: bytes, pin_key: bytes) -> bytes:
    """``data_key`` encrypted under a PIN's key (XSalsa20-Poly1305, a fresh nonce)."""
    return bytes(SecretBox(pin_key).encrypt(data_key))


def unwrap_key(wrapped: bytes, pin_key: bytes) -> bytes:
    """The data key a wrap holds; :class:`WrongPin` when ``pin_key`` does not open it."""
    try:
        return bytes(SecretBox(pin_key).decrypt(wrapped))
    except (CryptoError, ValueError, TypeError) as exc:
        raise WrongPin("PIN salah") from exc
