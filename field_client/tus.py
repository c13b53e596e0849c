"""The tus 1.0.0 headers the field client writes and reads (no HTTP here)."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from urllib.parse import urljoin, urlsplit

import requests

from field_client.errors import (
    ChecksumMismatch,
    DeviceRevoked,
    FieldClientError,
    NetworkUnavailable,
    ServerStorageFull,
    UploadBusy,
    UploadGone,
    UploadOffsetMismatch,
    UploadTooLarge,
)
from field_client.http_errors import REVOKED, detail, http_error, jemput_problem

TUS_VERSION = "1.0.0"
OFFSET_STREAM = "application/offset+octet-stream"
#: Sent with every upload request: the server answers 412 without it.
TUS_HEADERS = {"Tus-Resumable": TUS_VERSION}
_DEFAULT_PORTS = {"http": 80, "https": 443}


def encode_metadata(values: Mapping[str, str]) -> str:
    """``Upload-Metadata``: ``key base64value`` pairs, comma separated."""
    return ",".join(
        f"{key} {base64.b64encode(value.encode()).decode('ascii')}" for key, value in values.items()
    )


def chunk_checksum(data: bytes) -> str:
    """``Upload-Checksum`` of one chunk: ``sha256 <base64 of the digest>``."""
    return "sha256 " + base64.b64encode(hashlib.sha256(data).digest()).decode("ascii")


def offset_of(headers: Mapping[str, str]) -> int | None:
    """``Upload-Offset`` as an integer, or None when absent or not a non-negative integer."""
    value = (headers.get("Upload-Offset") or "").strip()
    return int(value) if value.isascii() and value.isdigit() else None


def required_offset(headers: Mapping[str, str]) -> int:
    """``Upload-Offset`` of a successful answer; without one the answer is not the contract's."""
    offset = offset_of(headers)
    if offset is None:
        raise not_contract("tanpa Upload-Offset yang sah")
    return offset


def not_contract(what: str) -> NetworkUnavailable:
    """An upload answer that is not what tus promises: outcome unknown, try again later."""
    return NetworkUnavailable(
        f"Server menjawab unggahan {what}: tidak sesuai protokol tus. Berkas tetap di perangkat "
        "dan dicoba lagi nanti dari posisi yang dipegang server; bila berulang, periksa versi "
        "server atau proxy."
    )


def network_message(server: str, exc: requests.RequestException) -> str:
    """The operator's sentence for an upload request that got no answer."""
    what = (
        "tidak menjawab tepat waktu"
        if isinstance(exc, requests.Timeout)
        else "tidak dapat dihubungi atau sambungan terputus"
    )
    return (
        f"Server {server} {what} saat mengunggah berkas biometrik. Bagian yang sudah diterima "
        "server tidak dikirim ulang: sinkron berikutnya melanjutkan dari posisi terakhir. "
        "Berkas dan rekaman tetap aman di perangkat."
    )


def upload_error(response: requests.Response) -> FieldClientError:
    """The error of an upload answer >= 400, by meaning (the contract of issue 3).

    Only the tus server's own answers carry meaning: a Jemput problem+json, or (a HEAD answer
    has no body) a bodiless answer with ``Tus-Resumable``; anything else is :func:`http_error`.
    """
    status = response.status_code
    problem = jemput_problem(response)
    is_head = response.request is not None and response.request.method == "HEAD"
    if problem is None and not (is_head and response.headers.get("Tus-Resumable")):
        return http_error(response)
    code = problem.get("code") if problem else None
    why = detail(problem, response)
    if status in (404, 410):
        return UploadGone(f"Unggahan tidak ada lagi di server (HTTP {status}): {why}", code)
    if status == 409 or code == "upload_interrupted":
        # A cut body (upload_interrupted) is the network's doing: re-read the offset and go on.
        return UploadOffsetMismatch(
            f"Posisi unggahan berbeda dengan server (HTTP 409): {why}", offset_of(response.headers)
        )
    if status == 460:
        return ChecksumMismatch(f"Checksum tidak cocok (HTTP 460): {why}", code)
    if status == 413:
        return UploadTooLarge(
            f"Berkas lebih besar dari batas server (HTTP 413): {why}",
            status=status,
            code=code,
            problem=problem or {},
        )
    if status == 423:  # another process of this device (a copied home folder, say) is writing
        return UploadBusy(
            f"Unggahan yang sama sedang ditulis permintaan lain (HTTP 423): {why}. Berkas dan "
            "rekaman tetap aman di perangkat; dilanjutkan dari posisi terakhir."
        )
    if status == 507:
        return ServerStorageFull(_STORAGE_FULL)
    if status == 401:
        return DeviceRevoked(REVOKED)
    return http_error(response)


_STORAGE_FULL = (
    "Penyimpanan server kantor penuh (HTTP 507): server tidak dapat menerima berkas sekarang. "
    "Bagian yang sudah diterima tetap tersimpan; unggahan dilanjutkan dari posisi terakhir pada "
    "sinkron berikutnya. Beri tahu petugas teknis kantor agar disk server dikosongkan. Berkas "
    "dan rekaman tetap aman di perangkat."
)


def resolve_location(request_url: str, location: str) -> str:
    """An absolute upload URL from ``Location`` (absolute or relative to the request)."""
    return urljoin(request_url, location.strip())


def same_origin(url: str, other: str) -> bool:
    """Whether two URLs share scheme, host and port (the token and the files stay there)."""
    a, b = urlsplit(url), urlsplit(other)
    try:
        ports = (a.port or _DEFAULT_PORTS.get(a.scheme), b.port or _DEFAULT_PORTS.get(b.scheme))
    except ValueError:  # a port that is not a number
        return False
    return (
        a.scheme == b.scheme
        and (a.hostname or "").lower() == (b.hostname or "").lower()
        and ports[0] == ports[1]
        and bool(a.hostname)
    )
