"""The tus 1.0.0 headers the field client writes and reads (no HTTP here)."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from urllib.parse import urljoin, urlsplit

import requests
from urllib3.util import SKIP_HEADER

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
from field_client.sync.http_errors import REVOKED, detail, http_error, jemput_problem
from shared import problems
from shared.protocol import TUS_VERSION

#: Sent with every upload request: the server answers 412 without it.
TUS_HEADERS = {"Tus-Resumable": TUS_VERSION}
#: Session headers an upload request does without (None removes them; urllib3's SKIP_HEADER
#: keeps it from adding ``Accept-Encoding: identity`` instead): under the API every error is
#: problem+json whatever ``Accept`` says, and a tus answer has no body worth compressing (none
#: on success, a short problem+json otherwise). On a slow link each request's headers weigh: a
#: file is one request of a few hundred bytes of headers.
LEAN_HEADERS: dict[str, str | None] = {"Accept": None, "Accept-Encoding": SKIP_HEADER}
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
    """The error of an upload answer >= 400, by its problem code (the contract of issue 3).

    Only the tus server's own answers carry meaning: a Jemput problem+json, or (a HEAD answer
    has no body) a bodiless answer with ``Tus-Resumable``, read by its status; anything else
    is :func:`http_error`.
    """
    status = response.status_code
    problem = jemput_problem(response)
    is_head = response.request is not None and response.request.method == "HEAD"
    if problem is None and not (is_head and response.headers.get("Tus-Resumable")):
        return http_error(response)
    code = problems.code_of(problem["code"] if problem else None, status, _BY_STATUS)
    sent = problem["code"] if problem else None
    why = detail(problem, response)
    if code in _GONE:
        return UploadGone(f"Unggahan tidak ada lagi di server (HTTP {status}): {why}", sent)
    if code in _OFFSET_LOST:
        # A cut body (upload_interrupted) is the network's doing: re-read the offset and go on.
        return UploadOffsetMismatch(
            f"Posisi unggahan berbeda dengan server (HTTP {status}): {why}",
            offset_of(response.headers),
        )
    if code in _BYTES_DIFFER:
        return ChecksumMismatch(f"Checksum tidak cocok (HTTP {status}): {why}", sent)
    method = response.request.method if response.request is not None else None
    carried_bytes = method == "PATCH" or (
        method == "POST" and response.request is not None and bool(response.request.body)
    )
    if code == problems.UPLOAD_UNREADABLE.code and carried_bytes:
        # The last chunk (a PATCH's, or a creation's with creation-with-upload) completed a
        # sealed file the server could not open: it discarded the upload, as for a whole-file
        # hash mismatch (at a bodiless creation, the same code is a refusal: a key the office's
        # ring lacks).
        return ChecksumMismatch(
            f"Berkas tersegel tidak dapat dibuka server (HTTP {status}): {why}", sent
        )
    if code in _TOO_LARGE:
        return UploadTooLarge(
            f"Berkas lebih besar dari batas server (HTTP {status}): {why}",
            status=status,
            code=sent,
            problem=problem or {},
        )
    if code == problems.UPLOAD_BUSY.code:  # another process of this device is writing it
        return UploadBusy(
            f"Unggahan yang sama sedang ditulis permintaan lain (HTTP {status}): {why}. Berkas "
            "dan rekaman tetap aman di perangkat; dilanjutkan dari posisi terakhir."
        )
    if code == problems.STORAGE_FULL.code:
        return ServerStorageFull(_STORAGE_FULL)
    if code == problems.UNAUTHORIZED.code:
        return DeviceRevoked(REVOKED)
    return http_error(response)


_GONE = frozenset({problems.UPLOAD_NOT_FOUND.code, problems.UPLOAD_EXPIRED.code,
                   problems.UPLOAD_FAILED.code, problems.NOT_FOUND.code})
_OFFSET_LOST = frozenset({problems.UPLOAD_OFFSET_MISMATCH.code, problems.UPLOAD_INTERRUPTED.code})
_BYTES_DIFFER = frozenset({problems.CHECKSUM_MISMATCH.code, problems.BLOB_HASH_MISMATCH.code})
_TOO_LARGE = frozenset({problems.UPLOAD_TOO_LARGE.code, problems.PAYLOAD_TOO_LARGE.code})
#: A HEAD answer has no body, and a newer server may send a code this client does not know:
#: then the status stands for the upload code the server would have sent.
_BY_STATUS = {problem.status: problem for problem in (
    problems.UPLOAD_NOT_FOUND, problems.UPLOAD_EXPIRED, problems.UPLOAD_OFFSET_MISMATCH,
    problems.UPLOAD_TOO_LARGE, problems.UPLOAD_BUSY, problems.CHECKSUM_MISMATCH,
    problems.STORAGE_FULL, problems.UNAUTHORIZED)}
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
