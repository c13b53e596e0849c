"""Operator PINs: six digits, stored and shipped to devices only as a slow salted hash.

The hash travels to the field laptop (the operator logs in there offline), so it is PBKDF2-SHA256
with many iterations: a stolen laptop's hashes cost real effort per guess, and the device locks
the login after a few wrong PINs. Standard library only: both the server and the device use it.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import re
import secrets

from shared.errors import InvalidPin

#: Use with ``fullmatch``: ``$`` alone would let a trailing newline through.
PIN_RE = re.compile(r"^[0-9]{6}$")
ALGORITHM = "pbkdf2_sha256"
#: One verify takes ~0.15 s on the project's 2-core machine (measured; see the README).
DEFAULT_ITERATIONS = 300_000
#: An encoded hash asking for more is malformed: it would stall the login for minutes.
MAX_ITERATIONS = 5_000_000
SALT_BYTES = 16
_HASH_HEX = re.compile(r"^[0-9a-f]{64}$")
_SALT_HEX = re.compile(r"^(?:[0-9a-f]{2}){8,64}$")


def hash_pin(pin: str, *, iterations: int = DEFAULT_ITERATIONS, salt: bytes | None = None) -> str:
    """``pbkdf2_sha256$<iterations>$<salt hex>$<hash hex>`` of a six-digit PIN."""
    if not isinstance(pin, str) or not PIN_RE.fullmatch(pin):
        raise InvalidPin()
    if not 1 <= iterations <= MAX_ITERATIONS:
        raise ValueError(f"iterations must be 1..{MAX_ITERATIONS}")
    salt = secrets.token_bytes(SALT_BYTES) if salt is None else salt
    if not 8 <= len(salt) <= 64:
        raise ValueError("salt must be 8..64 bytes")
    digest = hashlib.pbkdf2_hmac("sha256", pin.encode(), salt, iterations)
    return f"{ALGORITHM}${iterations}${salt.hex()}${digest.hex()}"


def verify_pin(pin: str, encoded: str) -> bool:
    """Whether ``pin`` matches ``encoded``; False for a malformed PIN or hash (never raises)."""
    parsed = _parse(encoded)
    if parsed is None or not isinstance(pin, str) or not PIN_RE.fullmatch(pin):
        return False
    iterations, salt, expected = parsed
    digest = hashlib.pbkdf2_hmac("sha256", pin.encode(), salt, iterations)
    return hmac.compare_digest(digest, expected)


def generate_pin() -> str:
    """A random six-digit PIN that is not trivial (not 000000, not 123456 or 987654)."""
    while True:
        pin = f"{secrets.randbelow(10**6):06d}"
        if not is_trivial(pin):
            return pin


def is_trivial(pin: str) -> bool:
    """One digit repeated, or a run of consecutive digits up or down (wrapping 9 -> 0)."""
    steps = {(int(b) - int(a)) % 10 for a, b in itertools.pairwise(pin)}
    return len(steps) == 1 and steps <= {0, 1, 9}


def _parse(encoded: str) -> tuple[int, bytes, bytes] | None:
    """(iterations, salt, hash) of a well-formed encoded hash, else None."""
    if not isinstance(encoded, str):
        return None
    parts = encoded.split("$")
    if len(parts) != 4 or parts[0] != ALGORITHM:
        return None
    _, iterations_text, salt_hex, hash_hex = parts
    if not iterations_text.isascii() or not iterations_text.isdigit():
        return None
    iterations = int(iterations_text)
    if not 1 <= iterations <= MAX_ITERATIONS:
        return None
    if not _SALT_HEX.fullmatch(salt_hex) or not _HASH_HEX.fullmatch(hash_hex):
        return None
    return iterations, bytes.fromhex(salt_hex), bytes.fromhex(hash_hex)
