"""The device data key (DK): what a laptop keeps readable only for the operators of its team.

The office makes one DK per device (kept sealed to the office key) and hands the laptop one
wrap of it per operator (``shared.pin``). Under DK travel and rest the target lists, the records
the office sends back with their data, the device profile and the drafts; the local checks (the
same NIK twice, a target already recorded) compare keyed hashes of NIKs, never NIKs.
"""

from __future__ import annotations

import secrets
from typing import Any

from nacl.encoding import RawEncoder
from nacl.exceptions import CryptoError
from nacl.hash import blake2b
from nacl.secret import SecretBox

from shared.canonical import PackedTooLarge, pack_json, unpack_json
from shared.errors import SharedError

KEY_BYTES = SecretBox.KEY_SIZE
#: Bytes SecretBox adds to what it holds (a nonce and a MAC).
BOX_OVERHEAD = SecretBox.NONCE_SIZE + SecretBox.MACBYTES
_NIK_PERSON = b"jemput-nik"
#: Largest JSON document a box may unpack to (a 5,000-name target list is ~1 MB).
MAX_JSON_BYTES = 64 * 1024 * 1024


class DataKeyError(SharedError, ValueError):
    """Bytes that do not open with this data key: tampered, or another device's."""


def new_data_key() -> bytes:
    """A fresh random data key."""
    return secrets.token_bytes(KEY_BYTES)


def encrypt(data_key: bytes, data: bytes) -> bytes:
    """``data`` encrypted under DK (XSalsa20-Poly1305, a fresh nonce)."""
    return bytes(SecretBox(data_key).encrypt(data))


def decrypt(data_key: bytes, box: bytes) -> bytes:
    """What ``box`` holds; :class:`DataKeyError` when it does not open with DK."""
    try:
        return bytes(SecretBox(data_key).decrypt(box))
    except (CryptoError, ValueError, TypeError) as exc:
        raise DataKeyError("tidak dapat dibuka dengan kunci data perangkat ini") from exc


def encrypt_json(data_key: bytes, document: Any) -> bytes:
    """A JSON document encrypted under DK (its gzipped canonical form)."""
    return encrypt(data_key, pack_json(document))


def decrypt_json(data_key: bytes, box: bytes) -> Any:
    """The JSON document ``box`` holds; :class:`DataKeyError` when it is not one."""
    packed = decrypt(data_key, box)
    try:
        return unpack_json(packed, MAX_JSON_BYTES)
    except PackedTooLarge as exc:
        raise DataKeyError("isi terenkripsi terlalu besar") from exc
    except ValueError as exc:
        raise DataKeyError("isi terenkripsi bukan JSON") from exc


def nik_mac(data_key: bytes, nik: str) -> str:
    """A keyed hash of a NIK (hex): equal for equal NIKs on one device, nothing without DK."""
    key = blake2b(_NIK_PERSON, key=data_key, encoder=RawEncoder)
    return blake2b(nik.encode("ascii"), digest_size=16, key=key).decode("ascii")

