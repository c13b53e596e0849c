"""The server's one error root and every error it raises on purpose.

Each class takes its HTTP status, code and title from the catalogue in ``shared.problems``
(the field client matches on the same codes); ``server.http.problems`` answers them as
problem+json and the office pages as an error page.
"""

from __future__ import annotations

from typing import Any, ClassVar

from shared import problems


class JemputError(Exception):
    """Root of every domain error; ``status``, ``code`` and ``title`` describe the problem."""

    status: ClassVar[int]
    code: ClassVar[str]
    title: ClassVar[str]
    status, code, title = problems.INTERNAL_ERROR

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
    status, code, title = problems.INVALID_INPUT


class Unauthorized(JemputError):
    status, code, title = problems.UNAUTHORIZED

    def __init__(self, detail: str | None = None, error: str | None = None) -> None:
        # RFC 6750: a bare challenge when no token came, error="..." when one was wrong.
        challenge = 'Bearer realm="jemput"' + (f', error="{error}"' if error else "")
        super().__init__(detail, headers={"WWW-Authenticate": challenge})


class TokenExpired(Unauthorized):
    """A device token unused for longer than ``JEMPUT_DEVICE_TOKEN_IDLE_DAYS``."""

    status, code, title = problems.TOKEN_EXPIRED


class Forbidden(JemputError):
    status, code, title = problems.FORBIDDEN


class NotFound(JemputError):
    status, code, title = problems.NOT_FOUND


class Conflict(JemputError):
    status, code, title = problems.CONFLICT


class PayloadTooLarge(JemputError):
    status, code, title = problems.PAYLOAD_TOO_LARGE


class UnsupportedMediaType(JemputError):
    status, code, title = problems.UNSUPPORTED_MEDIA_TYPE


class ClientOutdated(JemputError):
    """A device request without ``Jemput-Protocol: 2``: an older field client, refused whole."""

    status, code, title = problems.CLIENT_OUTDATED


class TooManyAttempts(JemputError):
    """Too many failed office logins from one address: refused until ``retry_after`` seconds."""

    status, code, title = problems.TOO_MANY_ATTEMPTS

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after)})


class ServiceUnavailable(JemputError):
    status, code, title = problems.SERVICE_UNAVAILABLE


class Busy(JemputError):
    """A lock wait ran past the lock timeout: the request changed nothing; try again soon."""

    status, code, title = problems.BUSY
    RETRY_AFTER = 5

    def __init__(self, detail: str = "Server sedang sibuk (pekerjaan lain memegang data yang "
                 "sama); tidak ada yang diubah. Coba lagi sebentar.") -> None:
        super().__init__(detail, headers={"Retry-After": str(self.RETRY_AFTER)})


class KeyRingMissing(JemputError):
    """The office key ring is not where the configuration says: nothing sealed opens."""

    status, code, title = problems.KEYRING_MISSING


# -- devices and sync


class RegistrationCodeInvalid(JemputError):
    status, code, title = problems.REGISTRATION_CODE_INVALID


class RegistrationCodeUsed(JemputError):
    status, code, title = problems.REGISTRATION_CODE_USED


class RegistrationCodeExpired(JemputError):
    status, code, title = problems.REGISTRATION_CODE_EXPIRED


class TooManyRecords(PayloadTooLarge):
    status, code, title = problems.TOO_MANY_RECORDS


# -- tus uploads


class BadUploadRequest(JemputError):
    status, code, title = problems.BAD_UPLOAD_REQUEST


class ChecksumAlgorithmUnsupported(JemputError):
    status, code, title = problems.CHECKSUM_ALGORITHM_UNSUPPORTED


class UploadInterrupted(JemputError):
    status, code, title = problems.UPLOAD_INTERRUPTED


class UploadNotFound(JemputError):
    status, code, title = problems.UPLOAD_NOT_FOUND


class UploadOffsetMismatch(JemputError):
    status, code, title = problems.UPLOAD_OFFSET_MISMATCH


class UploadExpired(JemputError):
    status, code, title = problems.UPLOAD_EXPIRED


class UploadFailed(JemputError):
    status, code, title = problems.UPLOAD_FAILED


class TusVersionUnsupported(JemputError):
    status, code, title = problems.TUS_VERSION_UNSUPPORTED


class UploadTooLarge(PayloadTooLarge):
    status, code, title = problems.UPLOAD_TOO_LARGE


class UploadBusy(JemputError):
    status, code, title = problems.UPLOAD_BUSY


class ChecksumMismatch(JemputError):
    status, code, title = problems.CHECKSUM_MISMATCH


class BlobHashMismatch(JemputError):
    status, code, title = problems.BLOB_HASH_MISMATCH


class UploadUnreadable(JemputError):
    """A sealed file that does not open with the office key it names (unknown key, tampered)."""

    status, code, title = problems.UPLOAD_UNREADABLE


class StorageFull(JemputError):
    status, code, title = problems.STORAGE_FULL


# -- outreach


class NotAssigned(Forbidden):
    status, code, title = problems.NOT_ASSIGNED


class VisitClosed(JemputError):
    status, code, title = problems.VISIT_CLOSED


# -- cards


class OutOfStock(Conflict):
    status, code, title = problems.OUT_OF_STOCK


class NotEnoughStock(Conflict):
    status, code, title = problems.NOT_ENOUGH_STOCK


class NotPrintable(Conflict):
    status, code, title = problems.NOT_PRINTABLE


class AlreadySpoiled(Conflict):
    status, code, title = problems.ALREADY_SPOILED


class NotEligible(Conflict):
    status, code, title = problems.NOT_ELIGIBLE


class BlankoAvailable(Conflict):
    status, code, title = problems.BLANKO_AVAILABLE


class SuketExists(Conflict):
    status, code, title = problems.SUKET_EXISTS


class SuketSuperseded(Conflict):
    status, code, title = problems.SUKET_SUPERSEDED


class RenewalNotDue(Conflict):
    """A Suket renewed while it still has more than ``EXPIRING_DAYS`` to run."""

    status, code, title = problems.RENEWAL_NOT_DUE


# -- the demo


class DemoRefused(JemputError):
    """The instance holds data the demo did not make: the demo will not touch it."""

    status, code, title = problems.DEMO_REFUSED
