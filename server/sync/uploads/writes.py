"""tus PATCH: append a request body to an upload; at the last byte, open it into a blob.

A body is streamed to the partial file piece by piece (never whole in memory), under the
upload's exclusive lock, with no database transaction held meanwhile. Whatever goes wrong (a
bad checksum, different bytes, a full disk, too many bytes) the partial file is cut back to
where the request found it, so an offset never points at half-written bytes.

The partial file holds the sealed bytes (protocol 2). Once it is whole it is opened with the
office key the upload names; the plaintext, checked against the declared sha256 and size, goes
into the blob store in one write (``BlobStore.put_blob``: a scratch file moved in, or one S3
PUT, so that a crash leaves either the sealed partial or the finished blob, never half a
plaintext). A PATCH that completes the file does not make its own bytes durable first: they are
opened at once, and a crash before the commit only costs that PATCH, sent again. A file the
store holds already (another device sent it) is not written again: the upload only makes this
device one of its holders. The sealed partial is deleted only after that commit, so a crash in
between costs at most the last chunk, sent again.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from server.core import keyring
from server.core.blobstore import BlobStore, PartialFile, blob_store
from server.core.errors import (
    BlobHashMismatch,
    ChecksumMismatch,
    UploadInterrupted,
    UploadOffsetMismatch,
    UploadTooLarge,
    UploadUnreadable,
)
from server.core.extensions import db
from server.core.models import Blob, Upload
from server.core.timeutil import utcnow
from server.sync.blobs import add_holder, holds
from server.sync.completeness import complete_after_upload
from server.sync.uploads.lifecycle import (
    FAILED,
    FINISHED,
    MAX_UPLOAD_LENGTH,
    UPLOADING,
    UploadInfo,
    check_free_space,
    check_usable,
    deadline,
    owned_upload,
    usable_upload,
)
from shared.sealing import SealError, open_sealed

log = logging.getLogger(__name__)


class BodyCut(Exception):
    """The request body ended before its declared length: the client went away."""


@dataclass(frozen=True)
class Chunk:
    """One PATCH request, as plain values."""

    offset: int  # the client's Upload-Offset
    length: int | None  # Content-Length, when declared
    checksum: bytes | None  # expected SHA-256 digest of the body (Upload-Checksum)
    body: Iterable[bytes]  # the body in pieces; raises BodyCut when the client vanishes


@dataclass
class _Receipt:
    bytes_read: int = 0
    cut: bool = False


def append_chunk(device_id: str, upload_id: str, chunk: Chunk) -> UploadInfo:
    """Write one PATCH body at the upload's offset; the new offset, or why not."""
    upload = usable_upload(device_id, upload_id)
    if chunk.length is not None and chunk.offset + chunk.length > upload.length:
        raise UploadTooLarge(f"Potongan ini melewati Upload-Length ({upload.length} byte); "
                             "tidak ada yang disimpan.")
    db.session.commit()  # no transaction held while the body streams in
    if upload.state == UPLOADING:
        check_free_space(_to_come(upload, chunk), offset=upload.offset)
        with blob_store().partial(upload_id) as part:
            if _settle(upload, part) == UPLOADING:
                return _write(part, upload, chunk)
        # It finished, failed or went away while this request waited for it.
        check_usable(owned_upload(device_id, upload_id))
    return _resend_finished(upload, chunk)


def _to_come(upload: Upload, chunk: Chunk) -> int:
    """The disk this PATCH may take: its body, and the plaintext when it ends the file."""
    body = upload.length - chunk.offset if chunk.length is None else chunk.length
    plain = upload.length if upload.plain_size is None else upload.plain_size
    return body + (plain if chunk.offset + body >= upload.length else 0)


def _settle(upload: Upload, part: PartialFile) -> str:
    """The upload's state now that it is locked; file and offset made to agree after a crash."""
    db.session.refresh(upload)
    store = blob_store()
    if upload.state != UPLOADING:
        store.discard(upload.id)  # the empty file the lock just created
    elif part.size > upload.offset:
        part.truncate(upload.offset)  # bytes of a request that died before its commit
    elif part.size < upload.offset or part.size == 0:
        # This device sent the file already (another upload of it), and the store holds it.
        if holds(upload.device_id, upload.sha256) and _stored_intact(upload):
            store.discard(upload.id)
            _record_blob(upload, 0)
        elif part.size < upload.offset:
            log.warning("Upload %s lost bytes on disk; resuming from %d", upload.id, part.size)
            upload.offset = part.size
    db.session.commit()
    return upload.state


def _stored_intact(upload: Upload) -> bool:
    """Whether the store holds this upload's file whole (checked, not just found)."""
    store = blob_store()
    if not store.has_blob(upload.sha256):
        return False
    digest = hashlib.sha256()
    with store.open_blob(upload.sha256) as stream:
        while piece := stream.read(1024 * 1024):
            digest.update(piece)
    return digest.hexdigest() == upload.sha256


def _write(part: PartialFile, upload: Upload, chunk: Chunk) -> UploadInfo:
    """Stream the body into the locked partial file, then record the new offset."""
    start = part.size
    receipt = _Receipt()
    try:
        _receive(part, upload.length, chunk, receipt)
        if receipt.cut and chunk.checksum is not None:
            raise UploadInterrupted("Kiriman terputus; potongan dibuang karena checksumnya "
                                    "tidak bisa diperiksa.", headers=_offset(start))
        if part.size != upload.length:
            part.sync()  # a whole file is opened right away: its sealed bytes need not last
    except BaseException:
        if part.size != start:
            part.truncate(start)
        _count_received(upload.id, receipt.bytes_read)
        raise
    if part.size == upload.length:
        return _finish(part, upload, receipt.bytes_read)
    now = utcnow()
    upload.offset, upload.updated_at = part.size, now
    upload.expires_at = deadline(upload.created_at, now)
    upload.received_bytes = Upload.received_bytes + receipt.bytes_read
    db.session.commit()
    if receipt.cut:  # tus core: what arrived before the cut is kept
        raise UploadInterrupted(f"Kiriman terputus; {part.size} byte tersimpan, lanjutkan dari "
                                "sana.", headers=_offset(part.size))
    return UploadInfo.of(upload)


def _receive(stored: PartialFile, length: int, chunk: Chunk, receipt: _Receipt) -> None:
    """Compare the body where it overlaps ``stored``, append the rest, check its checksum."""
    held = stored.size
    if chunk.offset > held:
        raise UploadOffsetMismatch(f"Upload-Offset {chunk.offset} melewati {held} byte yang "
                                   "sudah diterima.", headers=_offset(held))
    position, room = chunk.offset, length - chunk.offset
    digest = hashlib.sha256() if chunk.checksum is not None else None
    try:
        for piece in chunk.body:
            receipt.bytes_read += len(piece)
            if receipt.bytes_read > room:
                raise UploadTooLarge(f"Kiriman melewati Upload-Length ({length} byte); "
                                     "tidak ada yang disimpan.")
            if digest is not None:
                digest.update(piece)
            if position < held:  # a re-send: it must repeat exactly the bytes already held
                same = min(len(piece), held - position)
                if stored.read(position, same) != piece[:same]:
                    raise UploadOffsetMismatch("Byte yang dikirim ulang berbeda dari yang sudah "
                                               "diterima.", headers=_offset(held))
                position, piece = position + same, piece[same:]
            if piece:
                stored.append(piece)
                position += len(piece)
    except BodyCut:
        receipt.cut = True
        return
    if digest is not None and digest.digest() != chunk.checksum:
        raise ChecksumMismatch("Checksum potongan tidak cocok; potongan dibuang, kirim ulang.",
                               headers=_offset(held))


def _finish(part: PartialFile, upload: Upload, bytes_read: int) -> UploadInfo:
    """Open the whole sealed file and check the plaintext against its declared hash and size;
    move the plaintext in as a blob, or discard everything."""
    plain = _opened(part, upload, bytes_read)
    if hashlib.sha256(plain).hexdigest() != upload.sha256 or len(plain) != upload.plain_size:
        _fail(upload, part.size, bytes_read)
        log.warning("Upload %s did not hash to its declared sha256; discarded", upload.id)
        raise BlobHashMismatch("Isi berkas tidak cocok dengan sha256 yang dinyatakan; berkas "
                               "dibuang. Periksa berkasnya lalu kirim ulang dari awal.")
    # A blob row is committed only after its file is stored: with one, only the holder is new.
    if db.session.get(Blob, upload.sha256) is None:
        _store_plain(blob_store(), upload, plain)  # only verified plaintexts are ever stored
    _record_blob(upload, bytes_read)
    part.discard()
    complete_after_upload(upload.sha256)
    return UploadInfo.of(upload)


def _opened(part: PartialFile, upload: Upload, bytes_read: int) -> bytes:
    """The plaintext of the whole sealed partial; 422 ``upload_unreadable`` (and the upload
    failed, its bytes gone) when it does not open with the key the upload names."""
    if part.size > MAX_UPLOAD_LENGTH:  # cannot happen (Upload-Length is checked): a bound
        raise UploadTooLarge(f"Berkas melebihi {MAX_UPLOAD_LENGTH} byte.")
    secret = keyring.current().secret_for(upload.key_id or "")
    try:
        if secret is None:
            raise SealError(f"no key {upload.key_id!r}")
        return open_sealed(secret, part.read(0, part.size))
    except SealError:
        _fail(upload, part.size, bytes_read)
        log.warning("Upload %s did not open with key %s; discarded", upload.id, upload.key_id)
        raise UploadUnreadable("Berkas tersegel tidak dapat dibuka dengan kunci kantor yang "
                               "disebutnya (rusak di jalan?); berkas dibuang. Kirim ulang dari "
                               "awal.") from None


def _fail(upload: Upload, size: int, bytes_read: int) -> None:
    """The upload failed its final check: its bytes go, its row says so."""
    blob_store().discard(upload.id)
    now = utcnow()
    upload.offset, upload.state, upload.updated_at = size, FAILED, now
    upload.received_bytes = Upload.received_bytes + bytes_read
    db.session.commit()


def _store_plain(store: BlobStore, upload: Upload, plain: bytes) -> None:
    """Write the verified plaintext durably as blob ``upload.sha256``, in one write."""
    store.put_blob(upload.sha256, plain)


def _record_blob(upload: Upload, bytes_read: int) -> None:
    """Commit the blob row (unless another upload of the same file did), this device as one
    of its holders, and finish ``upload``."""
    for attempt in (1, 2):
        now = utcnow()
        upload.offset, upload.state, upload.updated_at = upload.length, FINISHED, now
        upload.received_bytes = Upload.received_bytes + bytes_read
        if db.session.get(Blob, upload.sha256) is None:
            size = upload.length if upload.plain_size is None else upload.plain_size
            db.session.add(Blob(sha256=upload.sha256, size=size,
                                media_type=upload.media_type, created_at=now))
        try:
            add_holder(upload.sha256, upload.device_id, now)
            db.session.commit()
            return
        except IntegrityError:
            db.session.rollback()  # the same file finished by another device a moment ago
            if attempt == 2:
                raise


def _resend_finished(upload: Upload, chunk: Chunk) -> UploadInfo:
    """A PATCH to a finished upload: the body is read and dropped, the answer is "all there".

    The bytes are never compared with the stored file: an answer that depended on them would
    let a device that only knows a file's hash read that file byte by byte (match or not).
    Whatever it sends, it learns only what creating the upload already told it.
    """
    receipt = _Receipt()
    try:
        if chunk.offset > upload.length:
            raise UploadOffsetMismatch(f"Upload-Offset {chunk.offset} melewati panjang berkas.",
                                       headers=_offset(upload.length))
        for piece in chunk.body:
            receipt.bytes_read += len(piece)
            if chunk.offset + receipt.bytes_read > upload.length:
                raise UploadTooLarge(f"Kiriman melewati Upload-Length ({upload.length} byte); "
                                     "tidak ada yang disimpan.")
    except BodyCut:
        pass  # nothing is kept from a finished upload's resend anyway
    finally:
        _count_received(upload.id, receipt.bytes_read)
    if upload.state == FINISHED:  # as a HEAD does: records it was the last file of complete
        complete_after_upload(upload.sha256)
    return UploadInfo.of(upload)


def _count_received(upload_id: str, bytes_read: int) -> None:
    """Add body bytes that changed no offset (refused, repeated) to the upload's tally."""
    if not bytes_read:
        return
    try:
        db.session.rollback()
        db.session.execute(update(Upload).where(Upload.id == upload_id)
                           .values(received_bytes=Upload.received_bytes + bytes_read))
        db.session.commit()
    except Exception:  # a tally must never hide the error being answered
        db.session.rollback()
        log.warning("Could not count %d received bytes of upload %s", bytes_read, upload_id)


def _offset(offset: int) -> dict[str, str]:
    return {"Upload-Offset": str(offset)}
