"""The blob store in a folder: ``sha256/ab/cd/<sha256>`` for blobs, ``partial/<id>`` beside.

Durability: appended bytes are fsynced before an offset is reported; a finished blob is synced,
then moved in with ``os.replace`` (atomic) and its directory synced, so after a power cut a blob
path holds either nothing or the whole verified file. A partial upload is locked with
``flock`` on its open file, which holds across the worker processes of one machine.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import logging
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from server.core.errors import StorageFull, UploadBusy

log = logging.getLogger(__name__)

SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
UPLOAD_ID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
READ_PIECE = 1024 * 1024
#: Biometric files are personal data: readable by the server's user only.
DIR_MODE, FILE_MODE = 0o700, 0o600
#: The errors that mean "no room left", not "something broke".
NO_SPACE = {errno.ENOSPC, errno.EDQUOT}


def _write_all(fd: int, data: bytes, offset: int) -> None:
    """``pwrite`` all of ``data`` at ``offset`` (a short write is continued)."""
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        view, offset = view[written:], offset + written


def _open_locked(path: Path, attempts: int = 3) -> int:
    """``path`` opened (created when absent) and exclusively locked, or UploadBusy.

    The lock holder may move the file into the store (promote) or delete it just before this
    request gets the lock; the lock would then sit on a file that is no longer the partial.
    So the locked descriptor must still be the file at ``path``, else open again.
    """
    for _ in range(attempts):
        fd = os.open(path, os.O_RDWR | os.O_CREAT, FILE_MODE)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            os.close(fd)
            raise UploadBusy("Unggahan ini sedang dikirim oleh permintaan lain; "
                             "coba lagi sebentar lagi.") from exc
        held = os.fstat(fd)
        try:
            current = os.stat(path)
        except FileNotFoundError:
            current = None
        if current is not None and (current.st_dev, current.st_ino) == (held.st_dev, held.st_ino):
            return fd
        os.close(fd)
    raise UploadBusy("Unggahan ini sedang diselesaikan permintaan lain; coba lagi sebentar lagi.")


def _fsync_dir(path: Path) -> None:
    """Make a directory entry change (create, rename, unlink) durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _make_dirs(path: Path) -> None:
    """Create ``path`` and any missing parents, each new entry synced into its parent."""
    if path.is_dir():
        return
    _make_dirs(path.parent)
    try:
        path.mkdir(mode=DIR_MODE)
    except FileExistsError:
        return  # another worker made it first (and synced it)
    _fsync_dir(path.parent)


class FilePartial:
    """A partial upload's open, locked file."""

    def __init__(self, fd: int, path: Path) -> None:
        self._fd = fd
        self._path = path
        self._size = os.fstat(fd).st_size

    @property
    def size(self) -> int:
        """Bytes stored so far."""
        return self._size

    def read(self, start: int, length: int) -> bytes:
        """Up to ``length`` stored bytes from ``start``."""
        return os.pread(self._fd, max(0, min(length, self._size - start)), start)

    def append(self, data: bytes) -> None:
        """Write ``data`` at the end; on failure nothing of it stays."""
        try:
            _write_all(self._fd, data, self._size)
        except OSError as exc:
            os.ftruncate(self._fd, self._size)  # a half-written piece must not stay behind
            if exc.errno in NO_SPACE:
                raise StorageFull("Penyimpanan server penuh; coba lagi nanti.") from exc
            raise
        self._size += len(data)

    def truncate(self, size: int) -> None:
        """Cut back to ``size`` bytes, durably."""
        os.ftruncate(self._fd, size)
        os.fsync(self._fd)
        self._size = size

    def sync(self) -> None:
        """fsync the appended bytes."""
        os.fsync(self._fd)

    def sha256(self) -> str:
        """SHA-256 (hex) of the whole file, read in pieces."""
        digest = hashlib.sha256()
        for start in range(0, self._size, READ_PIECE):
            digest.update(os.pread(self._fd, READ_PIECE, start))
        return digest.hexdigest()

    def discard(self) -> None:
        """Unlink the file (the open descriptor keeps the lock until it is closed)."""
        self._path.unlink(missing_ok=True)
        self._size = 0


#: An audit anchor's object name (``20261206T101500Z-000042.json``).
ANCHOR_NAME = re.compile(r"^[0-9]{8}T[0-9]{6}Z-[0-9]{1,20}\.json$")
#: Files waiting for an import job: a random hex name (the job's argument) and the kind.
IMPORT_NAME = re.compile(r"^[0-9a-f]{32}\.csv$")
IMPORT_CHUNK = 1024 * 1024


class FilesystemBlobStore:
    """Blobs and partial uploads under one folder (``JEMPUT_BLOB_DIR``)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.partial_dir = self.root / "partial"
        self.blob_dir = self.root / "sha256"

    def blob_path(self, sha256: str) -> Path:
        """Where blob ``sha256`` lives: two levels of fan-out keep folders small."""
        if not SHA256_HEX.match(sha256):
            raise ValueError("not a lowercase hex SHA-256")
        return self.blob_dir / sha256[:2] / sha256[2:4] / sha256

    def partial_path(self, upload_id: str) -> Path:
        """Where partial upload ``upload_id`` lives."""
        if not UPLOAD_ID.match(upload_id):
            raise ValueError("not an upload id")
        return self.partial_dir / upload_id

    @contextmanager
    def partial(self, upload_id: str) -> Iterator[FilePartial]:
        """Partial ``upload_id``, created when absent, under an exclusive non-blocking lock."""
        path = self.partial_path(upload_id)
        _make_dirs(self.partial_dir)
        fd = _open_locked(path)
        try:
            yield FilePartial(fd, path)
        finally:
            os.close(fd)  # closing releases the lock

    def promote(self, upload_id: str, sha256: str) -> None:
        """Move the synced partial in as blob ``sha256``, atomically and durably."""
        target = self.blob_path(sha256)
        _make_dirs(target.parent)
        # Same name, same bytes: replacing a copy another upload just finished is harmless.
        os.replace(self.partial_path(upload_id), target)
        _fsync_dir(target.parent)
        _fsync_dir(self.partial_dir)

    def put_blob(self, sha256: str, data: bytes) -> None:
        """Write ``data`` to a scratch file beside the partials (0600, synced), then move it in
        as blob ``sha256``, atomically and durably."""
        target = self.blob_path(sha256)
        _make_dirs(self.partial_dir)
        _make_dirs(target.parent)
        fd, scratch = tempfile.mkstemp(dir=self.partial_dir, prefix=".put-")
        try:
            os.fchmod(fd, 0o600)
            _write_all(fd, data, 0)
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.replace(scratch, target)
        except BaseException:
            os.unlink(scratch)
            raise
        _fsync_dir(target.parent)
        _fsync_dir(self.partial_dir)

    def discard(self, upload_id: str) -> bool:
        """Delete partial ``upload_id``; False when it was not there."""
        try:
            os.unlink(self.partial_path(upload_id))
        except FileNotFoundError:
            return False
        return True

    def partial_ids(self) -> Iterator[str]:
        """Ids of every partial upload on disk."""
        if self.partial_dir.is_dir():
            for entry in os.scandir(self.partial_dir):
                if UPLOAD_ID.match(entry.name):
                    yield entry.name

    def has_blob(self, sha256: str) -> bool:
        """Whether blob ``sha256`` is stored."""
        return self.blob_path(sha256).is_file()

    def open_blob(self, sha256: str) -> BinaryIO:
        """Blob ``sha256`` opened for reading."""
        return self.blob_path(sha256).open("rb")

    def put_anchor(self, name: str, data: bytes) -> bool:
        """Write anchor ``name`` under ``anchors/`` with O_EXCL (never over another), 0600,
        durably; False when that name exists."""
        if not ANCHOR_NAME.match(name):
            raise ValueError("not an anchor name")
        folder = self.root / "anchors"
        _make_dirs(folder)
        try:
            fd = os.open(folder / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return False
        try:
            _write_all(fd, data, 0)
            os.fsync(fd)
        finally:
            os.close(fd)
        _fsync_dir(folder)
        return True

    def anchors(self) -> Iterator[tuple[str, bytes]]:
        """Every anchor under ``anchors/``, by name."""
        folder = self.root / "anchors"
        if folder.is_dir():
            for name in sorted(entry.name for entry in os.scandir(folder)):
                if ANCHOR_NAME.match(name):
                    yield name, (folder / name).read_bytes()

    def import_path(self, name: str) -> Path:
        if not IMPORT_NAME.match(name):
            raise ValueError("not an import file name")
        return self.root / "imports" / name

    def put_import(self, name: str, source: BinaryIO) -> None:
        """Copy ``source`` to ``imports/NAME`` (0600, durably)."""
        path = self.import_path(name)
        _make_dirs(path.parent)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            offset = 0
            while piece := source.read(IMPORT_CHUNK):
                _write_all(fd, piece, offset)
                offset += len(piece)
            os.fsync(fd)
        finally:
            os.close(fd)
        _fsync_dir(path.parent)

    def open_import(self, name: str) -> BinaryIO:
        """Import file ``name`` opened for reading."""
        return self.import_path(name).open("rb")

    def delete_import(self, name: str) -> None:
        """Delete ``imports/NAME`` if it is there."""
        self.import_path(name).unlink(missing_ok=True)
