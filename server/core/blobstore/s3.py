"""The blob store in an S3-compatible bucket (``JEMPUT_BLOB_URL=s3://BUCKET/PREFIX``), via boto3.

Keys, all under ``PREFIX/``:

- ``sha256/ab/cd/<sha256>``: a finished blob, written once (only after the caller verified the
  plaintext against its sha256), never overwritten: an existing one is kept.
- ``partial/<upload id>/<offset:020d>``: one object per synced chunk of a partial upload. The
  partial's size is the sum of its chunk objects, listed, so a chunk may land on any app host:
  the next request, wherever it runs, sees every byte the previous ones synced.
- ``anchors/<name>``: audit anchors.

A partial upload's exclusive lock is taken outside the bucket (S3 has none): on PostgreSQL a
session-level ``pg_try_advisory_lock`` on a hash of the upload id, held on a connection of its
own for the request (so it holds across every host on that database); on SQLite (one host) a
``flock`` file under ``JEMPUT_BLOB_DIR/locks`` (across the worker processes of that host).
Either way a taken lock is :class:`~server.core.errors.UploadBusy` at once.

Appended bytes are buffered in memory and written as one chunk object on :meth:`S3Partial.sync`
(or every :data:`FLUSH_BYTES`), before the offset is reported, as the folder store fsyncs. A
chunk that was stored by a request that died before its commit lies past the database offset,
and the next request cuts it away (``truncate``), as on disk.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, cast

from server.core.blobstore.filesystem import (
    ANCHOR_NAME,
    IMPORT_NAME,
    SHA256_HEX,
    UPLOAD_ID,
    _make_dirs,
    _open_locked,
)
from server.core.errors import UploadBusy

log = logging.getLogger(__name__)

#: Buffered appended bytes are written out as a chunk object at this size at the latest.
FLUSH_BYTES = 8 * 1024 * 1024
READ_PIECE = 1024 * 1024
#: Objects deleted per DeleteObjects request (the S3 maximum).
DELETE_BATCH = 1000
BUSY = "Unggahan ini sedang dikirim oleh permintaan lain; coba lagi sebentar lagi."

Locker = Callable[[str], AbstractContextManager[None]]


def parse_url(url: str) -> tuple[str, str]:
    """``s3://BUCKET/PREFIX`` as (bucket, prefix without slashes at either end)."""
    match = re.fullmatch(r"s3://([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:/(.*))?", url)
    if match is None:
        raise ValueError(f"JEMPUT_BLOB_URL {url!r} is not s3://BUCKET/PREFIX")
    return match.group(1), (match.group(2) or "").strip("/")


def advisory_key(upload_id: str) -> int:
    """The signed 64-bit advisory lock key of ``upload_id`` (a collision only means busy)."""
    digest = hashlib.sha256(b"jemput-upload:" + upload_id.encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def postgres_locker(engine: Callable[[], Any]) -> Locker:
    """Locks by ``pg_try_advisory_lock`` on a connection of their own from ``engine()``."""

    @contextmanager
    def hold(upload_id: str) -> Iterator[None]:
        from sqlalchemy import text

        key = advisory_key(upload_id)
        connection = engine().connect()
        try:
            got = connection.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar()
            connection.commit()
            if not got:
                raise UploadBusy(BUSY)
            try:
                yield
            finally:
                try:
                    connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                    connection.commit()
                except Exception:  # a broken connection: its session (and lock) ends with it
                    connection.invalidate()
                    raise
        finally:
            connection.close()

    return hold


def file_locker(folder: str | os.PathLike[str]) -> Locker:
    """Locks by ``flock`` on ``folder/<upload id>.lock`` (one host: SQLite installations)."""
    root = Path(folder)

    @contextmanager
    def hold(upload_id: str) -> Iterator[None]:
        _make_dirs(root)
        path = root / f"{upload_id}.lock"
        fd = _open_locked(path)
        try:
            yield
        finally:
            with suppress(FileNotFoundError):  # still locked: a later opener sees another
                os.unlink(path)  # inode and retries
            os.close(fd)

    return hold


@dataclass(frozen=True)
class _Chunk:
    offset: int
    size: int
    key: str

    @property
    def end(self) -> int:
        return self.offset + self.size


def _missing(exc: Exception) -> bool:
    from botocore.exceptions import ClientError

    if not isinstance(exc, ClientError):
        return False
    code = str(exc.response.get("Error", {}).get("Code", ""))
    return code in ("404", "NoSuchKey", "NotFound")


class S3Partial:
    """A partial upload's chunk objects, held under its lock for one request."""

    def __init__(self, store: S3BlobStore, upload_id: str) -> None:
        self._store = store
        self._id = upload_id
        self._chunks = store.chunks(upload_id)
        self._pending = bytearray()

    @property
    def _flushed(self) -> int:
        return self._chunks[-1].end if self._chunks else 0

    @property
    def size(self) -> int:
        """Bytes stored so far (synced chunks and the buffered bytes)."""
        return self._flushed + len(self._pending)

    def read(self, start: int, length: int) -> bytes:
        """Up to ``length`` stored bytes from ``start``."""
        stop = min(start + max(length, 0), self.size)
        out = bytearray()
        for chunk in self._chunks:
            if chunk.end <= start or chunk.offset >= stop:
                continue
            low, high = max(start, chunk.offset) - chunk.offset, min(stop, chunk.end) - chunk.offset
            out += self._store.get_range(chunk.key, low, high)
        flushed = self._flushed
        if stop > flushed:
            out += self._pending[max(start, flushed) - flushed:stop - flushed]
        return bytes(out)

    def append(self, data: bytes) -> None:
        """Add ``data`` at the end (buffered; written out by :meth:`sync`)."""
        self._pending += data
        if len(self._pending) >= FLUSH_BYTES:
            self._flush()

    def _flush(self) -> None:
        if not self._pending:
            return
        offset = self._flushed
        key = self._store.chunk_key(self._id, offset)
        self._store.put(key, bytes(self._pending))
        self._chunks.append(_Chunk(offset, len(self._pending), key))
        self._pending.clear()

    def truncate(self, size: int) -> None:
        """Cut back to ``size``: later chunks deleted, the one across ``size`` rewritten."""
        flushed = self._flushed
        if size >= flushed:
            del self._pending[size - flushed:]
            return
        self._pending.clear()
        while self._chunks and self._chunks[-1].end > size:
            last = self._chunks.pop()
            if last.offset >= size:
                self._store.delete([last.key])
            else:
                kept = self._store.get_range(last.key, 0, size - last.offset)
                self._store.put(last.key, kept)
                self._chunks.append(_Chunk(last.offset, len(kept), last.key))

    def sync(self) -> None:
        """Write the buffered bytes as a chunk object (stored once the PUT answers)."""
        self._flush()

    def discard(self) -> None:
        """Delete the chunk objects known under the lock (none: no request at all)."""
        self._store.delete([chunk.key for chunk in self._chunks])
        self._chunks.clear()
        self._pending.clear()

    def pieces(self) -> Iterator[bytes]:
        """Every stored byte in order, in pieces."""
        for chunk in self._chunks:
            yield from self._store.stream(chunk.key)
        if self._pending:
            yield bytes(self._pending)

    def sha256(self) -> str:
        """SHA-256 (hex) of all stored bytes, streamed chunk by chunk."""
        digest = hashlib.sha256()
        for piece in self.pieces():
            digest.update(piece)
        return digest.hexdigest()


class _Concatenated:
    """The chunk objects of a partial as one readable stream (for a streamed re-upload)."""

    def __init__(self, pieces: Iterator[bytes]) -> None:
        self._pieces = pieces
        self._buffer = b""

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._buffer) < size:
            piece = next(self._pieces, None)
            if piece is None:
                break
            self._buffer += piece
        if size < 0:
            out, self._buffer = self._buffer, b""
        else:
            out, self._buffer = self._buffer[:size], self._buffer[size:]
        return out


class S3BlobStore:
    """Blobs, partial uploads and audit anchors under one prefix of one bucket."""

    def __init__(self, client: Any, bucket: str, prefix: str, locker: Locker) -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = f"{prefix}/" if prefix else ""
        self._lock = locker

    # --- keys and object primitives

    def blob_key(self, sha256: str) -> str:
        if not SHA256_HEX.match(sha256):
            raise ValueError("not a lowercase hex SHA-256")
        return f"{self.prefix}sha256/{sha256[:2]}/{sha256[2:4]}/{sha256}"

    def partial_prefix(self, upload_id: str) -> str:
        if not UPLOAD_ID.match(upload_id):
            raise ValueError("not an upload id")
        return f"{self.prefix}partial/{upload_id}/"

    def chunk_key(self, upload_id: str, offset: int) -> str:
        return f"{self.partial_prefix(upload_id)}{offset:020d}"

    def _list(self, prefix: str) -> Iterator[dict[str, Any]]:
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            yield from page.get("Contents", [])

    def put(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=key, Body=data)

    def get_range(self, key: str, low: int, high: int) -> bytes:
        """Bytes ``[low, high)`` of object ``key``."""
        if high <= low:
            return b""
        answer = self.client.get_object(Bucket=self.bucket, Key=key,
                                        Range=f"bytes={low}-{high - 1}")
        return cast(bytes, answer["Body"].read())

    def stream(self, key: str) -> Iterator[bytes]:
        body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"]
        try:
            while piece := body.read(READ_PIECE):
                yield piece
        finally:
            body.close()

    def delete(self, keys: list[str]) -> None:
        for start in range(0, len(keys), DELETE_BATCH):
            batch = [{"Key": key} for key in keys[start:start + DELETE_BATCH]]
            self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch,
                                                                   "Quiet": True})

    def _exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
        except Exception as exc:
            if _missing(exc):
                return False
            raise
        return True

    def chunks(self, upload_id: str) -> list[_Chunk]:
        """The partial's chunk objects in offset order, up to the first gap or overlap (left
        by a crash in the middle of a truncate: whatever lies past it is deleted)."""
        prefix = self.partial_prefix(upload_id)
        found = sorted((int(item["Key"][len(prefix):]), int(item["Size"]), item["Key"])
                       for item in self._list(prefix) if item["Key"][len(prefix):].isdigit())
        kept: list[_Chunk] = []
        stray: list[str] = []
        for offset, size, key in found:
            end = kept[-1].end if kept else 0
            if stray or offset != end:
                stray.append(key)
            else:
                kept.append(_Chunk(offset, size, key))
        if stray:
            log.warning("Upload %s: %d chunk objects past a gap deleted", upload_id, len(stray))
            self.delete(stray)
        return kept

    # --- the BlobStore protocol

    @contextmanager
    def partial(self, upload_id: str) -> Iterator[S3Partial]:
        """Partial ``upload_id`` (empty when it has no chunk), under its exclusive lock."""
        self.partial_prefix(upload_id)  # refuse a bad id before taking any lock
        with self._lock(upload_id):
            yield S3Partial(self, upload_id)

    def promote(self, upload_id: str, sha256: str) -> None:
        """Assemble the partial's chunks into blob ``sha256`` (unless held already), then
        delete them. One chunk is copied inside the bucket; several are streamed into one
        (multipart) upload."""
        target = self.blob_key(sha256)
        chunks = self.chunks(upload_id)
        total = chunks[-1].end if chunks else 0
        if not self._exists(target):  # same name, same bytes: a stored blob is kept
            if len(chunks) == 1:
                self.client.copy_object(Bucket=self.bucket, Key=target,
                                        CopySource={"Bucket": self.bucket, "Key": chunks[0].key})
            else:
                pieces = (piece for chunk in chunks for piece in self.stream(chunk.key))
                self.client.upload_fileobj(_Concatenated(pieces), self.bucket, target)
            stored = self.client.head_object(Bucket=self.bucket, Key=target)
            if int(stored["ContentLength"]) != total:
                raise OSError(f"blob {sha256} stored with {stored['ContentLength']} bytes, "
                              f"not {total}")
        self.delete([chunk.key for chunk in chunks])

    def put_blob(self, sha256: str, data: bytes) -> None:
        """One PUT straight to the blob key (no chunk objects, no copy): S3 writes an object
        whole or not at all. Checked by the ETag, the MD5 of a single-part upload."""
        answer = self.client.put_object(Bucket=self.bucket, Key=self.blob_key(sha256), Body=data)
        etag = str(answer.get("ETag", "")).strip('"')
        md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
        if etag and "-" not in etag and etag != md5:
            raise OSError(f"blob {sha256} stored with ETag {etag}, not the MD5 of its bytes")

    def discard(self, upload_id: str) -> bool:
        """Delete partial ``upload_id``'s chunk objects; False when there were none."""
        keys = [item["Key"] for item in self._list(self.partial_prefix(upload_id))]
        self.delete(keys)
        return bool(keys)

    def partial_ids(self) -> Iterator[str]:
        """Ids of every partial upload with chunk objects in the bucket (listed object by
        object: some services keep an emptied "folder" as a common prefix)."""
        base = f"{self.prefix}partial/"
        seen: set[str] = set()
        for item in self._list(base):
            name = str(item["Key"])[len(base):].split("/", 1)[0]
            if name not in seen and UPLOAD_ID.match(name):
                seen.add(name)
                yield name

    def has_blob(self, sha256: str) -> bool:
        """Whether blob ``sha256`` is in the bucket."""
        return self._exists(self.blob_key(sha256))

    def open_blob(self, sha256: str) -> BinaryIO:
        """Blob ``sha256`` streamed from the bucket; FileNotFoundError when absent."""
        return self.open_object(self.blob_key(sha256))

    def open_object(self, key: str) -> BinaryIO:
        """Object ``key`` streamed from the bucket; FileNotFoundError when absent."""
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=key)
        except Exception as exc:
            if _missing(exc):
                raise FileNotFoundError(key) from exc
            raise
        return cast(BinaryIO, answer["Body"])

    def put_anchor(self, name: str, data: bytes) -> bool:
        """Store anchor ``name`` unless it exists; False when it does.

        S3 has no portable "create only": existence is checked, then the object is put. Two
        hosts writing the same name in the same instant may both succeed, the later winning;
        anchor names carry the audit head's id, so both then hold the same statement.
        """
        if not ANCHOR_NAME.match(name):
            raise ValueError("not an anchor name")
        key = f"{self.prefix}anchors/{name}"
        if self._exists(key):
            return False
        self.put(key, data)
        return True

    def anchors(self) -> Iterator[tuple[str, bytes]]:
        """Every anchor under ``anchors/``, by name."""
        base = f"{self.prefix}anchors/"
        names = sorted(str(item["Key"])[len(base):] for item in self._list(base))
        for name in names:
            if ANCHOR_NAME.match(name):
                yield name, b"".join(self.stream(base + name))

    def import_key(self, name: str) -> str:
        if not IMPORT_NAME.match(name):
            raise ValueError("not an import file name")
        return f"{self.prefix}imports/{name}"

    def put_import(self, name: str, source: BinaryIO) -> None:
        """Upload ``source`` to ``imports/NAME`` (boto3 switches to multipart when large)."""
        self.client.upload_fileobj(source, self.bucket, self.import_key(name))

    def open_import(self, name: str) -> BinaryIO:
        """Import file ``name`` streamed from the bucket; FileNotFoundError when absent."""
        return self.open_object(self.import_key(name))

    def delete_import(self, name: str) -> None:
        """Delete ``imports/NAME`` (S3 deletes of an absent key succeed)."""
        self.delete([self.import_key(name)])


def from_config(config: Any, engine: Callable[[], Any]) -> S3BlobStore:
    """The store ``JEMPUT_BLOB_URL`` names, with its lock: PostgreSQL advisory locks when the
    database is PostgreSQL, else lock files under ``JEMPUT_BLOB_DIR/locks``."""
    import boto3

    bucket, prefix = parse_url(config["JEMPUT_BLOB_URL"])
    client = boto3.client("s3", endpoint_url=config.get("JEMPUT_S3_ENDPOINT_URL") or None)
    if str(config["SQLALCHEMY_DATABASE_URI"]).startswith("postgresql"):
        locker = postgres_locker(engine)
    else:
        locker = file_locker(Path(config["JEMPUT_BLOB_DIR"]) / "locks")
    return S3BlobStore(client, bucket, prefix, locker)
