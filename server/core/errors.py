"""The server's one error root and its subclasses: each names its HTTP status, code and title."""

from __future__ import annotations

from typing import Any, ClassVar


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
