"""The one error root of the field client and its plain-language subclasses.

Every error carries ``message``: a sentence in Bahasa Indonesia an operator can act on. The CLI
prints it without a traceback and exits with ``exit_code``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

EX_ERROR = 1
EX_TEMPFAIL = 75  # sysexits.h: a temporary failure, try again later


class FieldClientError(Exception):
    """Root of every error the field client raises on purpose."""

    exit_code = EX_ERROR

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigInvalid(FieldClientError):
    """A setting from the environment cannot be used."""


class UsageInvalid(FieldClientError):
    """A call with arguments that cannot work (unknown state, unreadable input file, ...)."""


class CaptureInvalid(FieldClientError):
    """A capture that cannot be saved; ``fields`` maps each wrong field to its messages."""

    def __init__(self, fields: dict[str, list[str]], message: str | None = None) -> None:
        super().__init__(message or "Data rekaman belum benar; tidak ada yang disimpan.")
        self.fields = fields

    def lines(self) -> list[str]:
        """One ``field: message`` line per problem, in field order."""
        return [f"{name}: {text}" for name, texts in self.fields.items() for text in texts]


class FixRefused(FieldClientError):
    """A fix that cannot be made: unknown record, not in ``needs_fix``, or nothing changed."""


class DraftNotFound(FieldClientError):
    """No draft with that id on this device (never made, or discarded)."""


class DraftClosed(FieldClientError):
    """The draft was already saved as a record; it cannot change any more."""


class NoOperators(FieldClientError):
    """The device has no operator list yet (it never synced since registering)."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(
            message
            or "Belum ada daftar operator di laptop ini. Sambungkan ke jaringan dan sinkronkan "
            "sekali."
        )


class LoginRefused(FieldClientError):
    """Unknown operator or wrong PIN (the same answer for both); ``remaining`` tries left."""

    def __init__(self, message: str, remaining: int) -> None:
        super().__init__(message)
        self.remaining = remaining


class LoginLocked(FieldClientError):
    """Too many wrong PINs: no PIN is checked until ``until`` (timezone-aware)."""

    def __init__(self, until: dt.datetime, message: str | None = None) -> None:
        local = until.astimezone()
        super().__init__(
            message or f"Terlalu banyak PIN salah. Coba lagi pukul {local:%H:%M}."
        )
        self.until = until


class ClientOutdated(FieldClientError):
    """The server speaks a newer protocol than this client (426): update jemput-field."""

    def __init__(self, detail: str = "") -> None:
        super().__init__(
            "Server memerlukan versi jemput-field yang lebih baru (HTTP 426). Perbarui aplikasi "
            "lapangan; rekaman tetap aman di antrean sampai itu." + (f" {detail}" if detail else "")
        )


class UpgradeRequired(FieldClientError):
    """The outbox holds records an older version kept in clear: sync seals them first."""


class ProfileUnsafe(FieldClientError):
    """The stored profile asks for a PIN key cheaper than ``shared.pin.KDF_COST``: no login."""

    def __init__(self) -> None:
        super().__init__(
            "Profil perangkat meminta biaya kunci PIN di bawah batas aman, jadi laptop ini "
            "menolak masuk. Sinkronkan untuk mengambil profil baru, atau hubungi kantor."
        )


class NotRegistered(FieldClientError):
    """The device has no server registration yet."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(
            message
            or "Perangkat belum terdaftar. Jalankan dulu: jemput-field register --server URL "
            "--code KODE"
        )


class AlreadyRegistered(FieldClientError):
    """A second registration was asked without ``force``."""


class RegistrationRefused(FieldClientError):
    """The server refused the registration code; ``code`` is the server's reason."""

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


class NetworkUnavailable(FieldClientError):
    """The server could not be reached or did not answer clearly: outcome unknown, try later."""

    exit_code = EX_TEMPFAIL

    def __init__(self, message: str, report: Any = None) -> None:
        super().__init__(message)
        #: What the interrupted sync did before the network failed, when there was one (a
        #: ``field_client.sync.report.SyncReport``; errors sit below every layer that has one).
        self.report = report


class DeviceRevoked(FieldClientError):
    """The server no longer accepts this device's token (HTTP 401)."""


class ServerRefused(FieldClientError):
    """The server refused a whole request (a 4xx other than 401); carries the problem details."""

    def __init__(
        self, message: str, *, status: int, code: str | None = None, problem: Any = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.problem = problem


class PayloadTooLarge(ServerRefused):
    """The server refused a request body as too large (HTTP 413)."""


class OutboxCorrupt(FieldClientError):
    """The outbox file is not a readable database; it is left exactly as it was."""


class OutboxIncompatible(FieldClientError):
    """The outbox was written by a newer version of the field client."""


class StorageError(FieldClientError):
    """The disk is full, read-only or failing; the interrupted change was rolled back."""


class OutboxBusy(StorageError):
    """Another process held the outbox locked too long (SQLite busy/locked): try again later.

    Nothing was changed; unlike the other storage errors this one passes by itself.
    """

    exit_code = EX_TEMPFAIL


class SyncBusy(FieldClientError):
    """Another sync is already running on the same home folder."""

    exit_code = EX_TEMPFAIL


# -- uploads (tus) ---------------------------------------------------------------------------


class UploadGone(FieldClientError):
    """The server no longer knows this upload (404/410): create a new one."""

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


class UploadOffsetMismatch(FieldClientError):
    """A PATCH assumed another offset than the server holds (409); ask it with HEAD."""

    def __init__(self, message: str, offset: int | None = None) -> None:
        super().__init__(message)
        self.offset = offset


class ChecksumMismatch(FieldClientError):
    """The server got other bytes than were sent (460): one chunk, or the whole file."""

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        #: ``checksum_mismatch`` (a chunk; nothing appended) or ``blob_hash_mismatch`` (the
        #: completed file hashed differently; the server discarded the upload).
        self.code = code


class UploadTooLarge(ServerRefused):
    """The Jemput server refused a file as larger than its limit (413 ``upload_too_large``)."""


class UploadLocationRefused(FieldClientError):
    """The server named an upload address on another host; nothing is sent there."""


class UploadBusy(NetworkUnavailable):
    """Another request is writing the same upload right now (423): wait a moment, then HEAD."""


class ServerStorageFull(NetworkUnavailable):
    """The office server's disk is full (507): the upload stays resumable, try later."""
