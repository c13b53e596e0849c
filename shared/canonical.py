"""Canonical JSON and the SHA-256 digests both sides compute the same way."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, BinaryIO

HASH_KEY = "record_sha256"
_CHUNK = 1024 * 1024


def canonical_json(obj: Any) -> bytes:
    """Encode ``obj`` as the canonical JSON of the design (sorted keys, no spaces, UTF-8)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def record_sha256(record: dict[str, Any]) -> str:
    """SHA-256 (hex) of the canonical JSON of ``record`` without its ``record_sha256`` key."""
    body = {key: value for key, value in record.items() if key != HASH_KEY}
    return hashlib.sha256(canonical_json(body)).hexdigest()


def seal(record: dict[str, Any]) -> dict[str, Any]:
    """Return a copy of ``record`` carrying its own ``record_sha256``."""
    sealed = {key: value for key, value in record.items() if key != HASH_KEY}
    sealed[HASH_KEY] = record_sha256(sealed)
    return sealed


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
