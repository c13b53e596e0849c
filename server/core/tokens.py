"""Secrets handed to devices: bearer tokens and one-time registration codes."""

from __future__ import annotations

import hashlib
import secrets

#: Letters and digits nobody confuses when reading a code aloud (no 0/O, 1/I/L).
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 12
CODE_GROUP = 4


def new_token() -> str:
    """A fresh device bearer token: 32 random bytes, URL-safe base64."""
    return secrets.token_urlsafe(32)


def hash_token(secret: str) -> str:
    """SHA-256 (hex) of a token or code.

    Tokens and codes are long random values, not passwords, so a fast hash is the right one:
    there is nothing to guess, and lookups by hash stay cheap.
    """
    return hashlib.sha256(secret.encode()).hexdigest()


def new_registration_code() -> str:
    """A one-time code like ``7KQM-R3TX-P9WA``."""
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return "-".join(raw[i : i + CODE_GROUP] for i in range(0, CODE_LENGTH, CODE_GROUP))


def normalise_registration_code(code: str) -> str:
    """What an operator typed, as it is hashed: upper case, without dashes or spaces."""
    return "".join(code.split()).replace("-", "").upper()
