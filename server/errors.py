"""The server's one error root, and the handlers that turn errors into problem+json."""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from flask import Flask, Response, json
from werkzeug.exceptions import HTTPException

from server.extensions import db
from shared.protocol import PROBLEM_MEDIA_TYPE

log = logging.getLogger(__name__)


class JemputError(Exception):
    """Root of every domain error; ``status``, ``code`` and ``title`` describe the problem."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"
    title: ClassVar[str] = "Terjadi kesalahan pada server"

    def __init__(
        self,
        detail: str | None = None,
        errors: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.errors = errors
        self.headers = headers or {}


class InvalidInput(JemputError):
    status, code, title = 400, "invalid_input", "Data yang dikirim tidak valid"


class Unauthorized(JemputError):
    status, code, title = 401, "unauthorized", "Token perangkat tidak sah"

    def __init__(self, detail: str | None = None, error: str | None = None) -> None:
        # RFC 6750: a bare challenge when no token came, error="..." when one was wrong.
        challenge = 'Bearer realm="jemput"' + (f', error="{error}"' if error else "")
        super().__init__(detail, headers={"WWW-Authenticate": challenge})


class Forbidden(JemputError):
    status, code, title = 403, "forbidden", "Akses ditolak"


class NotFound(JemputError):
    status, code, title = 404, "not_found", "Tidak ditemukan"


class Conflict(JemputError):
    status, code, title = 409, "conflict", "Bertentangan dengan data yang sudah ada"


class PayloadTooLarge(JemputError):
    status, code, title = 413, "payload_too_large", "Permintaan terlalu besar"


class TooManyRecords(PayloadTooLarge):
    code, title = "too_many_records", "Terlalu banyak rekaman dalam satu kiriman"


class UnsupportedMediaType(JemputError):
    status, code, title = 415, "unsupported_media_type", "Format kiriman tidak didukung"


class RegistrationCodeInvalid(JemputError):
    status, code, title = 400, "registration_code_invalid", "Kode pendaftaran tidak dikenal"


class RegistrationCodeUsed(JemputError):
    status, code, title = 409, "registration_code_used", "Kode pendaftaran sudah dipakai"


class RegistrationCodeExpired(JemputError):
    status, code, title = 410, "registration_code_expired", "Kode pendaftaran sudah kedaluwarsa"


class ServiceUnavailable(JemputError):
    status, code, title = 503, "service_unavailable", "Layanan sedang tidak tersedia; coba lagi"


# tus uploads (issue 3): codes as the upload contract names them.
class BadUploadRequest(JemputError):
    status, code, title = 400, "bad_upload_request", "Permintaan unggah tidak valid"


class ChecksumAlgorithmUnsupported(JemputError):
    status, code, title = 400, "checksum_algorithm_unsupported", "Algoritma checksum tidak didukung"


class UploadInterrupted(JemputError):
    status, code, title = 400, "upload_interrupted", "Kiriman terputus di tengah jalan"


class UploadNotFound(JemputError):
    status, code, title = 404, "upload_not_found", "Unggahan tidak ditemukan"


class UploadOffsetMismatch(JemputError):
    status, code, title = 409, "upload_offset_mismatch", "Upload-Offset tidak cocok"


class UploadExpired(JemputError):
    status, code, title = 410, "upload_expired", "Unggahan sudah kedaluwarsa"


class UploadFailed(JemputError):
    status, code, title = 410, "upload_failed", "Unggahan gagal diverifikasi dan dibuang"


class TusVersionUnsupported(JemputError):
    status, code, title = 412, "tus_version_unsupported", "Versi tus tidak didukung"


class UploadTooLarge(PayloadTooLarge):
    code, title = "upload_too_large", "Berkas terlalu besar"


class UploadBusy(JemputError):
    status, code, title = 423, "upload_busy", "Unggahan ini sedang ditulis permintaan lain"


class ChecksumMismatch(JemputError):
    status, code, title = 460, "checksum_mismatch", "Checksum potongan tidak cocok"


class BlobHashMismatch(JemputError):
    status, code, title = 460, "blob_hash_mismatch", "Hash berkas tidak cocok dengan sha256"


class StorageFull(JemputError):
    status, code, title = 507, "storage_full", "Penyimpanan server penuh"


# Codes and Indonesian titles for the HTTP errors werkzeug raises by itself.
_HTTP_PROBLEMS: dict[int, tuple[str, str]] = {
    400: ("bad_request", "Permintaan tidak dapat dibaca"),
    404: ("not_found", "Alamat tidak ditemukan"),
    405: ("method_not_allowed", "Metode tidak diizinkan untuk alamat ini"),
    413: ("payload_too_large", "Permintaan terlalu besar"),
    415: ("unsupported_media_type", "Format kiriman tidak didukung"),
}


def problem(
    status: int,
    code: str,
    title: str,
    detail: str,
    errors: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """An RFC 9457 problem+json response."""
    body: dict[str, Any] = {
        "type": f"urn:jemput:problem:{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
    }
    if errors is not None:
        body["errors"] = errors
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM_MEDIA_TYPE)
    response.headers.update(headers or {})
    return response


def _handle_jemput_error(error: JemputError) -> Response:
    return problem(error.status, error.code, error.title, error.detail, error.errors, error.headers)


def _handle_http_exception(error: HTTPException) -> Response:
    status = error.code or 500
    code, title = _HTTP_PROBLEMS.get(status, (f"http_{status}", error.name))
    # Keep only the headers that mean something to a client (Allow on 405).
    headers = {k: v for k, v in error.get_headers() if k.lower() == "allow"}
    return problem(status, code, title, error.description or title, headers=headers)


def _handle_unexpected(error: Exception) -> Response:
    db.session.rollback()
    # Type and traceback only: request bodies carry residents' data and are never logged.
    log.exception("Unhandled %s", type(error).__name__)
    return problem(500, JemputError.code, JemputError.title, "Kesalahan internal; coba lagi nanti.")


def init_app(app: Flask) -> None:
    """Register the handlers: domain errors, HTTP errors, then everything else as a 500."""
    app.register_error_handler(JemputError, _handle_jemput_error)
    app.register_error_handler(HTTPException, _handle_http_exception)
    app.register_error_handler(Exception, _handle_unexpected)
