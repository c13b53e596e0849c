"""Canonical JSON and the SHA-256 digests both sides compute the same way."""

from __future__ import annotations

import gzip
import hashlib
import json
import zlib
from pathlib import Path
from typing import Any, BinaryIO

import orjson

HASH_KEY = "record_sha256"
_CHUNK = 1024 * 1024


#: orjson's sorted, compact UTF-8 output; subclasses of built-in types, datetimes and dataclasses
#: are handed to ``default`` (there is none, so they raise and ``json`` encodes them as it did).
_ORJSON_OPTIONS = (orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_SUBCLASS
                   | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS)


def canonical_json(obj: Any) -> bytes:
    """Encode ``obj`` as the canonical JSON of the design (sorted keys, no spaces, UTF-8).

    orjson writes the very bytes of :func:`canonical_json_stdlib` for JSON of objects, arrays,
    strings, integers, booleans and null, several times faster; whatever it refuses (an
    integer past 64 bits, a lone surrogate, a key that is not a string, a subclass) goes to
    ``json``, which encodes it or raises as before. Floats are the one difference (``1e-07``
    is ``1e-7``, NaN is ``null``): no record, statement or document that is hashed holds one.
    """
    try:
        return orjson.dumps(obj, option=_ORJSON_OPTIONS)
    except orjson.JSONEncodeError:
        return canonical_json_stdlib(obj)


def canonical_json_stdlib(obj: Any) -> bytes:
    """The definition of canonical JSON, with the standard library (what the design names)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


class PackedTooLarge(ValueError):
    """Packed JSON that inflates past its limit."""


def pack_json(obj: Any) -> bytes:
    """``obj`` as gzipped canonical JSON: what is sealed or encrypted (ciphertext does not
    compress, so the compression comes first). ``mtime=0``: the same object, the same bytes."""
    return gzip.compress(canonical_json(obj), compresslevel=6, mtime=0)


def unpack_json(packed: bytes, limit: int) -> Any:
    """The JSON that :func:`pack_json` packed, inflating at most ``limit`` bytes (a gzip bomb
    stops there); :class:`PackedTooLarge` past it, ``ValueError`` when not gzipped JSON."""
    try:
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        text = inflater.decompress(packed, limit + 1)
        if len(text) > limit or inflater.unconsumed_tail:
            raise PackedTooLarge(f"over {limit} bytes")
        return json.loads(text.decode("utf-8"))
    except (zlib.error, UnicodeDecodeError) as exc:  # JSONDecodeError is a ValueError
        raise ValueError("not gzipped JSON") from exc


def record_sha256(record: dict[str, Any]) -> str:
    """SHA-256 (hex) of the canonical JSON of ``record`` without its ``record_sha256`` key."""
    body = {key: value for key, value in record.items() if key != HASH_KEY}
    return hashlib.sha256(canonical_json(body)).hexdigest()


def with_hash(record: dict[str, Any]) -> dict[str, Any]:
    """Return a copy of ``record`` carrying its own ``record_sha256`` (not encryption: that is
    ``shared.sealing``)."""
    hashed = {key: value for key, value in record.items() if key != HASH_KEY}
    hashed[HASH_KEY] = record_sha256(hashed)
    return hashed


def sha256_stream(stream: BinaryIO) -> tuple[str, int]:
    """SHA-256 (hex) and size of everything left in ``stream``, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    size = 0
    while chunk := stream.read(_CHUNK):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def sha256_file(path: str | Path) -> tuple[str, int]:
    """SHA-256 (hex) and size of the file at ``path``."""
    with open(path, "rb") as stream:
        return sha256_stream(stream)
