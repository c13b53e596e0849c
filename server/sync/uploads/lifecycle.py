"""tus uploads of biometric files: create, look up, terminate, expire.

An upload belongs to the device that created it; any other device is told it does not exist.
Writing (PATCH) lives in :mod:`server.sync.uploads.writes`. The database row is the truth
about an upload's offset and state; the blob store holds its bytes.

Since protocol 2 a file travels sealed to the office key (``shared.sealing``): the metadata names
the plaintext's ``sha256`` and ``size`` and the ``key_id``; ``Upload-Length`` and the chunk
checksums cover the sealed bytes (size + 48). The server opens the file once it is whole and
keeps the plaintext, content-addressed by its sha256 as before.

A creation answers "nothing to send" only for a file this device sent itself
(``server.sync.blobs``); to any other device a held file and an unknown one get the same
answer, an upload from offset 0, and its bytes are verified like any other (the file is still
stored once). Before a creation or a PATCH is accepted, the device's open partial uploads are
counted against ``JEMPUT_UPLOAD_MAX_OPEN`` and ``JEMPUT_UPLOAD_MAX_OPEN_BYTES`` (429
``upload_quota``) and the blob folder's free space, less the bytes to come, against
``JEMPUT_MIN_FREE_BYTES`` (507 ``storage_full``); either stores nothing. A partial expires
``JEMPUT_UPLOAD_IDLE_HOURS`` after its last byte, and ``JEMPUT_UPLOAD_EXPIRY_HOURS`` after its
creation at the latest.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import secrets
import shutil
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import func, select, update

from server.core import keyring
from server.core.blobstore import blob_store, local_folder
from server.core.errors import (
    BadUploadRequest,
    JemputError,
    StorageFull,
    UploadBusy,
    UploadExpired,
    UploadFailed,
    UploadNotFound,
    UploadTooLarge,
    UploadUnreadable,
)
from server.core.extensions import db
from server.core.models import Blob, Device, Upload
from server.core.models.base import table_of
from server.core.timeutil import as_utc, utcnow
from server.sync.blobs import holds
from server.sync.completeness import complete_after_upload, complete_all_ready, complete_for_blob
from shared import problems
from shared.sealing import SEAL_OVERHEAD
from shared.vocab import MAX_ATTACHMENT_BYTES, MEDIA_TYPES

log = logging.getLogger(__name__)

UPLOADING, FINISHED, FAILED = "uploading", "finished", "failed"
TERMINATED, EXPIRED = "terminated", "expired"
SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
UPLOAD_ID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
KEY_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
#: The largest ``Upload-Length``: the largest file, sealed (``Tus-Max-Size``).
MAX_UPLOAD_LENGTH = MAX_ATTACHMENT_BYTES + SEAL_OVERHEAD
MAX_FILENAME = 255
#: Expired uploads cleaned in passing by each creation: enough to keep up, never a long wait.
CLEAN_IN_PASSING = 10


class UploadQuota(JemputError):
    """A device with too many unfinished uploads open, or too many of their bytes."""

    status, code, title = problems.UPLOAD_QUOTA


@dataclass(frozen=True)
class UploadInfo:
    """What a tus response tells about an upload."""

    id: str
    offset: int
    length: int  # of the sealed bytes (Upload-Length)
    sha256: str  # of the plaintext
    media_type: str
    filename: str | None
    expires_at: dt.datetime | None  # None once finished: nothing left to expire
    size: int | None = None  # of the plaintext; None for an upload of protocol 1
    key_id: str | None = None

    @classmethod
    def of(cls, upload: Upload) -> UploadInfo:
        """The info of row ``upload``."""
        unfinished = upload.state == UPLOADING
        return cls(upload.id, upload.offset, upload.length, upload.sha256, upload.media_type,
                   upload.filename, as_utc(upload.expires_at) if unfinished else None,
                   upload.plain_size, upload.key_id)


@dataclass(frozen=True)
class Declaration:
    """What a creation request says of the file: the sealed length, and the plaintext's hash,
    size and type, the key it is sealed to and its name."""

    length: int
    sha256: str
    size: int
    key_id: str
    media_type: str
    filename: str | None = None


@dataclass(frozen=True)
class CleanReport:
    """What :func:`clean_expired_uploads` did."""

    expired: int
    leftovers: int = 0
    completed: int = 0


def create_upload(device_id: str, declared: Declaration) -> UploadInfo:
    """A new upload of one sealed file, or the one that already has it (finished or
    resumable); 422 ``upload_unreadable`` for a key the ring does not hold, 429
    ``upload_quota`` past the device's caps and 507 ``storage_full`` when the disk is nearly
    full: nothing created."""
    _check_declaration(declared)
    clean_expired_uploads(limit=CLEAN_IN_PASSING)
    if holds(device_id, declared.sha256):  # this device sent the file itself: nothing to send
        blob = db.session.get(Blob, declared.sha256)
        if blob is not None and blob.size != declared.size:
            # The stored size is not told: a hash alone must not reveal anything of a file.
            raise BadUploadRequest("size tidak cocok dengan berkas sha256 ini.")
        upload = _new_upload(device_id, declared, utcnow(), FINISHED)
        db.session.commit()
        complete_for_blob(declared.sha256)  # self-healing: records naming it cannot stay incomplete
        return UploadInfo.of(upload)
    # Whether another device sent this file is neither used nor told: the bytes must come.
    resumable = _resumable(device_id, declared)
    if resumable is None:
        db.session.commit()
        check_free_space(declared.length + declared.size)
        resumable = _open_within_quota(device_id, declared)
    else:
        check_free_space(resumable.length - resumable.offset + declared.size)
    db.session.commit()
    return UploadInfo.of(resumable)


def _resumable(device_id: str, declared: Declaration) -> Upload | None:
    """This device's live partial upload of the very same sealed length, key and file."""
    return db.session.execute(
        select(Upload)
        .where(Upload.device_id == device_id, Upload.sha256 == declared.sha256,
               Upload.length == declared.length, Upload.key_id == declared.key_id,
               Upload.state == UPLOADING, Upload.expires_at > utcnow())
        .order_by(Upload.created_at.desc())
        .limit(1)
    ).scalar_one_or_none()


def _open_within_quota(device_id: str, declared: Declaration) -> Upload:
    """A new partial upload, unless the device's open partials reach a cap (429, nothing
    created). The device row is locked first, so the caps hold across server processes."""
    db.session.execute(update(table_of(Device)).where(Device.id == device_id)
                       .values(last_seq=Device.last_seq))
    again = _resumable(device_id, declared)  # made by a concurrent creation meanwhile
    if again is not None:
        return again
    now = utcnow()
    count, total = db.session.execute(
        select(func.count(), func.coalesce(func.sum(Upload.length), 0))
        .where(Upload.device_id == device_id, Upload.state == UPLOADING, Upload.expires_at > now)
    ).one()
    max_open = int(current_app.config["JEMPUT_UPLOAD_MAX_OPEN"])
    max_bytes = int(current_app.config["JEMPUT_UPLOAD_MAX_OPEN_BYTES"])
    if count >= max_open or total + declared.length > max_bytes:
        db.session.rollback()
        raise UploadQuota(
            f"Perangkat ini sudah punya {count} unggahan yang belum selesai ({total} byte); "
            f"batasnya {max_open} unggahan dan {max_bytes} byte sekaligus. Tidak ada yang "
            "dibuat: selesaikan unggahan yang ada dulu, atau coba lagi nanti.")
    return _new_upload(device_id, declared, now, UPLOADING)


def check_free_space(to_come: int, offset: int | None = None) -> None:
    """507 ``storage_full`` (nothing written) when the blob folder's free space, less the
    ``to_come`` bytes, would fall below ``JEMPUT_MIN_FREE_BYTES``; ``offset`` is the upload's,
    answered so that the client resumes from there later. Files in a bucket use no local disk:
    nothing to check then."""
    local = local_folder()
    if local is None:
        return
    folder = local.absolute()
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    free = shutil.disk_usage(folder).free
    if free - to_come < int(current_app.config["JEMPUT_MIN_FREE_BYTES"]):
        log.warning("Upload refused: %d bytes free on the blob disk, %d to come", free, to_come)
        raise StorageFull("Ruang disk server hampir habis; server tidak menerima berkas sekarang. "
                          "Bagian yang sudah terkirim tetap tersimpan; coba lagi nanti.",
                          headers={} if offset is None else {"Upload-Offset": str(offset)})


def _check_declaration(declared: Declaration) -> None:
    """Refuse a file the server could never accept, before any byte is sent."""
    if declared.size > MAX_ATTACHMENT_BYTES:
        raise UploadTooLarge(f"Berkas {declared.size} byte melebihi batas "
                             f"{MAX_ATTACHMENT_BYTES} byte.")
    if declared.size < 1:
        raise BadUploadRequest("Metadata size harus bilangan bulat 1 atau lebih.")
    if declared.length != declared.size + SEAL_OVERHEAD:
        raise BadUploadRequest(f"Upload-Length harus size + {SEAL_OVERHEAD} (berkas tersegel): "
                               f"{declared.size + SEAL_OVERHEAD}, bukan {declared.length}.")
    if not SHA256_HEX.match(declared.sha256):
        raise BadUploadRequest("Metadata sha256 harus 64 karakter heksadesimal huruf kecil.")
    if declared.media_type not in MEDIA_TYPES:
        raise BadUploadRequest(f"media_type harus salah satu dari: {', '.join(MEDIA_TYPES)}.")
    if declared.filename is not None and not 1 <= len(declared.filename) <= MAX_FILENAME:
        raise BadUploadRequest(f"filename harus 1-{MAX_FILENAME} karakter.")
    if not KEY_ID.match(declared.key_id):
        raise BadUploadRequest("Metadata key_id tidak sah.")
    if keyring.current().secret_for(declared.key_id) is None:
        raise UploadUnreadable(f"Berkas disegel ke kunci {declared.key_id} yang tidak dikenal "
                               "server; tidak ada unggahan yang dibuat. Sinkronkan profil "
                               "perangkat, lalu kirim lagi.")


def _new_upload(device_id: str, declared: Declaration, now: dt.datetime,
                state: str) -> Upload:
    length = declared.length
    upload = Upload(
        id=secrets.token_urlsafe(24), device_id=device_id, sha256=declared.sha256,
        length=length, offset=length if state == FINISHED else 0,
        media_type=declared.media_type, filename=declared.filename, key_id=declared.key_id,
        plain_size=declared.size, state=state, received_bytes=0, created_at=now,
        updated_at=now, expires_at=deadline(now, now),
    )
    db.session.add(upload)
    return upload


def expiry() -> dt.timedelta:
    """How long a partial upload is kept at most, from its creation."""
    return dt.timedelta(hours=float(current_app.config["JEMPUT_UPLOAD_EXPIRY_HOURS"]))


def idle_expiry() -> dt.timedelta:
    """How long a partial upload is kept after its last byte (or its creation)."""
    return dt.timedelta(hours=float(current_app.config["JEMPUT_UPLOAD_IDLE_HOURS"]))


def deadline(created_at: dt.datetime, touched_at: dt.datetime) -> dt.datetime:
    """When a partial created at ``created_at`` that last received bytes at ``touched_at``
    expires: idle too long, or too old, whichever comes first."""
    return min(as_utc(created_at) + expiry(), as_utc(touched_at) + idle_expiry())


def upload_status(device_id: str, upload_id: str) -> UploadInfo:
    """The offset and length of this device's upload ``upload_id`` (tus HEAD).

    A finished upload also completes the records its file was the last of, if they are not yet:
    a server killed between the PATCH's commit and that step leaves the laptop seeing "all
    there" on its next HEAD, and nothing else would ask again (self-healing, as a creation).
    """
    upload = usable_upload(device_id, upload_id)
    db.session.commit()
    if upload.state == FINISHED:
        complete_after_upload(upload.sha256)
    return UploadInfo.of(upload)


def owned_upload(device_id: str, upload_id: str) -> Upload:
    """Upload ``upload_id`` of ``device_id``; 404 for unknown, other devices' and terminated."""
    upload = db.session.get(Upload, upload_id) if UPLOAD_ID.match(upload_id) else None
    if upload is None or upload.device_id != device_id or upload.state == TERMINATED:
        raise UploadNotFound("Unggahan ini tidak ada (atau sudah dihentikan); buat unggahan baru.")
    return upload


def usable_upload(device_id: str, upload_id: str) -> Upload:
    """:func:`owned_upload`, and 410 when it failed its hash check or expired."""
    upload = owned_upload(device_id, upload_id)
    check_usable(upload)
    return upload


def check_usable(upload: Upload) -> None:
    """410 for a failed or expired upload (an expired one's bytes are deleted on the way)."""
    if upload.state == FAILED:
        raise UploadFailed("Berkas ini gagal diperiksa (tidak dapat dibuka atau tidak cocok "
                           "dengan sha256-nya) dan sudah dibuang; kirim ulang dari awal.")
    if upload.state == UPLOADING and as_utc(upload.expires_at) <= utcnow():
        _expire(upload.id)
    if upload.state == EXPIRED:
        raise UploadExpired("Unggahan ini kedaluwarsa dan potongannya sudah dihapus; "
                            "buat unggahan baru.")


def terminate_upload(device_id: str, upload_id: str) -> None:
    """Stop an upload and delete its partial bytes (tus DELETE); a finished blob stays."""
    upload = owned_upload(device_id, upload_id)
    if upload.state == UPLOADING:
        db.session.commit()  # no transaction held while waiting for the file lock
        store = blob_store()
        with store.partial(upload_id):
            db.session.refresh(upload)
            if upload.state == UPLOADING:
                store.discard(upload_id)
            _set_state(upload_id, TERMINATED)
    else:
        _set_state(upload_id, TERMINATED)
    log.info("Upload %s terminated by its device", upload_id)


def _set_state(upload_id: str, state: str) -> None:
    db.session.execute(update(Upload).where(Upload.id == upload_id)
                       .values(state=state, updated_at=utcnow()))
    db.session.commit()


def clean_expired_uploads(limit: int | None = None) -> CleanReport:
    """Delete the bytes of expired partial uploads and mark them; all of them without ``limit``.

    A full run (the ``clean-uploads`` command) also removes partial files no live upload owns
    and completes records whose files all arrived but missed their moment (a crash between).
    """
    due = db.session.execute(
        select(Upload.id).where(Upload.state == UPLOADING, Upload.expires_at <= utcnow())
        .order_by(Upload.expires_at).limit(limit)
    ).scalars().all()
    db.session.commit()
    expired = sum(_expire(upload_id) for upload_id in due)
    if limit is not None:
        return CleanReport(expired)
    return CleanReport(expired, _remove_leftovers(), len(complete_all_ready()))


def _expire(upload_id: str) -> bool:
    """Expire one upload if it still is due; False when busy or no longer due."""
    store = blob_store()
    try:
        with store.partial(upload_id):
            upload = db.session.get(Upload, upload_id, populate_existing=True)
            if upload is None or upload.state != UPLOADING or as_utc(upload.expires_at) > utcnow():
                db.session.commit()
                return False
            store.discard(upload_id)
            _set_state(upload_id, EXPIRED)
    except UploadBusy:
        return False  # a request is writing it right now: not stale after all
    log.info("Upload %s expired; its partial bytes were deleted", upload_id)
    return True


def _remove_leftovers() -> int:
    """Delete partial files whose upload is not in progress (left by a crash); return how many."""
    store = blob_store()
    removed = 0
    for upload_id in list(store.partial_ids()):
        try:
            with store.partial(upload_id):
                upload = db.session.get(Upload, upload_id, populate_existing=True)
                db.session.commit()
                if upload is None or upload.state != UPLOADING:
                    removed += store.discard(upload_id)
        except UploadBusy:
            continue
    return removed
