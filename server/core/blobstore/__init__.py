"""Where biometric files live: content-addressed finished blobs, and partial uploads apart.

Callers (the upload service) speak only to :class:`BlobStore` and :class:`PartialFile`; the
folder implementation is :class:`~server.core.blobstore.filesystem.FilesystemBlobStore`, the
bucket one (any S3-compatible service) :class:`~server.core.blobstore.s3.S3BlobStore`; which one
is chosen in :func:`init_app`, without touching the callers.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import BinaryIO, Protocol

from flask import Flask, current_app

EXTENSION_KEY = "jemput_blobs"


class PartialFile(Protocol):
    """An upload's bytes so far, held under an exclusive lock for one request."""

    @property
    def size(self) -> int:
        """Bytes stored so far."""
        ...

    def read(self, start: int, length: int) -> bytes:
        """Up to ``length`` stored bytes from ``start``."""
        ...

    def append(self, data: bytes) -> None:
        """Write ``data`` at the end; :class:`~server.core.errors.StorageFull` when the disk is."""
        ...

    def truncate(self, size: int) -> None:
        """Cut the stored bytes back to ``size`` (and make that durable)."""
        ...

    def sync(self) -> None:
        """Make every appended byte durable before its offset is reported."""
        ...

    def sha256(self) -> str:
        """SHA-256 (hex) of all stored bytes."""
        ...

    def discard(self) -> None:
        """Delete the stored bytes for good (the upload finished or failed), still locked."""
        ...


class BlobStore(Protocol):
    """Finished blobs by SHA-256, and the partial uploads that become them."""

    def partial(self, upload_id: str) -> AbstractContextManager[PartialFile]:
        """The partial upload ``upload_id`` (created empty when absent), locked exclusively.

        Raises :class:`~server.core.errors.UploadBusy` at once when another request holds it.
        """
        ...

    def promote(self, upload_id: str, sha256: str) -> None:
        """Move the (verified, synced, locked) partial ``upload_id`` in as blob ``sha256``."""
        ...

    def put_blob(self, sha256: str, data: bytes) -> None:
        """Store verified ``data`` as blob ``sha256`` in one write (a file that arrived whole),
        durably, checked as written; a stored blob of that name is the same bytes."""
        ...

    def discard(self, upload_id: str) -> bool:
        """Delete partial ``upload_id``'s bytes; False when there were none."""
        ...

    def partial_ids(self) -> Iterator[str]:
        """Every partial upload held, for cleaning up leftovers."""
        ...

    def has_blob(self, sha256: str) -> bool:
        """Whether blob ``sha256`` is stored."""
        ...

    def open_blob(self, sha256: str) -> BinaryIO:
        """Blob ``sha256`` for reading; FileNotFoundError when absent."""
        ...

    def put_anchor(self, name: str, data: bytes) -> bool:
        """Store audit anchor ``name`` once: False (and nothing written) when it exists."""
        ...

    def anchors(self) -> Iterator[tuple[str, bytes]]:
        """Every audit anchor stored, by name, oldest name first."""
        ...

    def put_import(self, name: str, source: BinaryIO) -> None:
        """Store a file an import job will read (``IMPORT_NAME``), from ``source``."""
        ...

    def open_import(self, name: str) -> BinaryIO:
        """Import file ``name`` for reading; FileNotFoundError when absent."""
        ...

    def delete_import(self, name: str) -> None:
        """Delete import file ``name`` (nothing when absent)."""
        ...


def init_app(app: Flask) -> None:
    """Create the app's blob store from its configuration: ``JEMPUT_BLOB_URL`` when set
    (``s3://BUCKET/PREFIX`` or ``file:///path``), else the folder ``JEMPUT_BLOB_DIR``."""
    from server.core.blobstore.filesystem import FilesystemBlobStore

    url = app.config.get("JEMPUT_BLOB_URL") or ""
    if url.startswith("s3://"):
        from server.core.blobstore import s3
        from server.core.extensions import db

        app.extensions[EXTENSION_KEY] = s3.from_config(app.config, lambda: db.engine)
        return
    if url.startswith("file://"):
        app.config["JEMPUT_BLOB_DIR"] = url.removeprefix("file://")  # free space is checked there
    elif url:
        raise ValueError(f"JEMPUT_BLOB_URL {url!r}: expected s3://BUCKET/PREFIX or file:///path")
    app.extensions[EXTENSION_KEY] = FilesystemBlobStore(app.config["JEMPUT_BLOB_DIR"])


def local_folder() -> Path | None:
    """The folder the files are written to on this host, or None when they go to a bucket
    (then no upload fills a local disk, and free space there is not the store's)."""
    if (current_app.config.get("JEMPUT_BLOB_URL") or "").startswith("s3://"):
        return None
    return Path(current_app.config["JEMPUT_BLOB_DIR"])


def blob_store() -> BlobStore:
    """The current app's blob store."""
    store: BlobStore = current_app.extensions[EXTENSION_KEY]
    return store
