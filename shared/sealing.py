"""Sealing for the office: what a laptop saves is readable only with the office's secret key.

libsodium (PyNaCl) sealed boxes: an X25519 key pair of the office, a fresh ephemeral key per
message, XSalsa20-Poly1305. A sealed box is 48 bytes longer than what it holds. A record is
sealed as the gzipped canonical JSON of the whole record; a biometric file as its bytes.
Nothing here is hand-rolled cryptography: it is PyNaCl's, with the project's framing.
"""

from __future__ import annotations

import base64
import functools
import hashlib
from typing import Any

from nacl.exceptions import CryptoError
from nacl.public import PrivateKey, PublicKey, SealedBox

from shared.canonical import PackedTooLarge, pack_json, unpack_json
from shared.errors import SharedError

#: Bytes a sealed box adds to what it holds (an ephemeral public key and a MAC).
SEAL_OVERHEAD = 48
#: Largest record a sealed box may unpack to (a record is a few KB; a bomb is refused).
MAX_RECORD_BYTES = 1024 * 1024


class SealError(SharedError, ValueError):
    """Sealed bytes that do not open: tampered, cut, or sealed to another key."""


def b64(data: bytes) -> str:
    """Standard base64 text, as keys and sealed records travel in JSON."""
    return base64.b64encode(data).decode("ascii")


def unb64(text: str) -> bytes:
    """The bytes of standard base64 text; :class:`SealError` when it is not."""
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError) as exc:
        raise SealError("bukan base64 yang sah") from exc


def fingerprint(public: bytes) -> str:
    """A public key as people compare it on two screens: ``3fa9 c2d1 07be 55e0 9d41``."""
    digest = hashlib.sha256(public).hexdigest()[:20]
    return " ".join(digest[i:i + 4] for i in range(0, 20, 4))


def seal(public: bytes, data: bytes) -> bytes:
    """``data`` sealed to the key pair whose public key is ``public``."""
    return bytes(SealedBox(PublicKey(public)).encrypt(data))


@functools.lru_cache(maxsize=16)
def _opener(secret: bytes) -> SealedBox:
    """The box that opens what is sealed to ``secret``'s public key (made once: making it
    derives the public key, a third of the cost of opening a record)."""
    return SealedBox(PrivateKey(secret))


def open_sealed(secret: bytes, sealed: bytes) -> bytes:
    """What a sealed box holds; :class:`SealError` when it does not open with ``secret``."""
    try:
        return bytes(_opener(bytes(secret)).decrypt(sealed))
    except (CryptoError, ValueError, TypeError) as exc:
        raise SealError("tidak dapat dibuka dengan kunci ini") from exc


def seal_record(public: bytes, record: dict[str, Any]) -> bytes:
    """A record (with its ``record_sha256``) as a sealed box of its gzipped canonical JSON."""
    return seal(public, pack_json(record))


def open_record(secret: bytes, sealed: bytes) -> Any:
    """The record a sealed box holds (parsed JSON); :class:`SealError` when it is not one."""
    packed = open_sealed(secret, sealed)
    try:
        return unpack_json(packed, MAX_RECORD_BYTES)
    except PackedTooLarge as exc:
        raise SealError("rekaman terlalu besar") from exc
    except ValueError as exc:
        raise SealError("isi tersegel bukan rekaman") from exc


def sealed_sha256(sealed: bytes) -> str:
    """The SHA-256 (hex) of sealed bytes: how a replay is known before anything is opened."""
    return hashlib.sha256(sealed).hexdigest()
