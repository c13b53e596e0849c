"""The tus 1.0.0 headers: reading them from a request, writing them on a response."""

from __future__ import annotations

import base64
import binascii
import re

from werkzeug.datastructures import Headers
from werkzeug.http import http_date

from server.core.errors import BadUploadRequest, ChecksumAlgorithmUnsupported
from server.sync.uploads.lifecycle import Declaration, UploadInfo
from shared.protocol import TUS_CHECKSUM_ALGORITHM

DIGITS = re.compile(r"^[0-9]{1,19}$")
METADATA_KEY = re.compile(r"^[^\s,]+$")
SHA256_DIGEST_BYTES = 32


def non_negative(headers: Headers, name: str) -> int:
    """Header ``name`` as a non-negative integer; 400 when missing or not one."""
    value = headers.get(name, "").strip()
    if not DIGITS.match(value):
        raise BadUploadRequest(f"Header {name} wajib ada dan harus bilangan bulat >= 0.")
    return int(value)


def upload_length(headers: Headers) -> int:
    """``Upload-Length`` of a creation request (deferred lengths are not supported)."""
    if "Upload-Defer-Length" in headers:
        raise BadUploadRequest("Upload-Defer-Length tidak didukung; kirim Upload-Length.")
    return non_negative(headers, "Upload-Length")


#: The metadata keys a creation request must carry (``shared.protocol.TUS_METADATA_KEYS``
#: less the optional ``filename``).
REQUIRED_METADATA = ("sha256", "size", "key_id", "media_type")


def metadata(header: str | None) -> dict[str, str]:
    """``Upload-Metadata`` (``key base64value`` pairs, comma separated) as text values."""
    pairs: dict[str, str] = {}
    for item in (header or "").split(","):
        if not item.strip():
            continue
        key, _, encoded = item.strip().partition(" ")
        if not METADATA_KEY.match(key) or key in pairs:
            raise BadUploadRequest("Upload-Metadata tidak sah: kunci kosong, ganda atau aneh.")
        try:
            pairs[key] = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise BadUploadRequest(f"Nilai Upload-Metadata '{key}' bukan base64 UTF-8.") from exc
    for required in REQUIRED_METADATA:
        if not pairs.get(required):
            raise BadUploadRequest(f"Upload-Metadata wajib memuat '{required}'.")
    return pairs


def declaration(headers: Headers) -> Declaration:
    """What a creation request declares: ``Upload-Length`` (the sealed bytes) and the
    metadata of the plaintext file (``sha256``, ``size``, ``key_id``, ``media_type``,
    ``filename``)."""
    meta = metadata(headers.get("Upload-Metadata"))
    length = upload_length(headers)
    size = meta["size"].strip()
    if not DIGITS.match(size):
        raise BadUploadRequest("Metadata size harus bilangan bulat >= 1 (byte berkas asli).")
    return Declaration(length=length, sha256=meta["sha256"], size=int(size),
                       key_id=meta["key_id"], media_type=meta["media_type"],
                       filename=meta.get("filename") or None)


def encode_metadata(info: UploadInfo) -> str:
    """The ``Upload-Metadata`` header of an upload, as HEAD answers it."""
    values = {"sha256": info.sha256, "size": None if info.size is None else str(info.size),
              "key_id": info.key_id, "media_type": info.media_type, "filename": info.filename}
    return ",".join(f"{key} {base64.b64encode(value.encode()).decode('ascii')}"
                    for key, value in values.items() if value is not None)


def checksum(header: str | None) -> bytes | None:
    """The expected SHA-256 digest from ``Upload-Checksum: sha256 <base64>``, if sent."""
    if header is None:
        return None
    algorithm, _, encoded = header.strip().partition(" ")
    if algorithm.lower() != TUS_CHECKSUM_ALGORITHM:
        raise ChecksumAlgorithmUnsupported(
            f"Algoritma checksum '{algorithm}' tidak didukung; pakai {TUS_CHECKSUM_ALGORITHM}.")
    try:
        digest = base64.b64decode(encoded.strip(), validate=True)
    except binascii.Error as exc:
        raise BadUploadRequest("Upload-Checksum harus 'sha256 <base64>'.") from exc
    if len(digest) != SHA256_DIGEST_BYTES:
        raise BadUploadRequest("Upload-Checksum sha256 harus 32 byte (base64).")
    return digest


def progress_headers(info: UploadInfo) -> dict[str, str]:
    """``Upload-Offset``, and ``Upload-Expires`` while the upload is unfinished."""
    headers = {"Upload-Offset": str(info.offset)}
    if info.expires_at is not None:
        headers["Upload-Expires"] = http_date(info.expires_at)
    return headers
