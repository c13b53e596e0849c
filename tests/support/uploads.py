"""tus at ``/api/v1/uploads`` through the Flask test client, and what the server then holds.

A file travels sealed to the office key (``SealedFile``, made by ``seal_file``): the metadata
names the plaintext's sha256 and size and the key, ``Upload-Length`` and the chunks are the
sealed bytes. Requests (``create``, ``patch``, ``head``, a whole ``upload``), their headers
(``TUS``, ``metadata``, ``chunk_checksum``), and the stored state: the upload row, its partial
file, the blob table and the blob store (``snapshot``, ``blob_count``, ``stored_blobs``).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update

from server.core.blobstore import blob_store
from server.core.blobstore.filesystem import FilesystemBlobStore
from server.core.blobstore.s3 import S3BlobStore
from server.core.extensions import db
from server.core.models import Blob, Enrollment, Upload
from server.core.timeutil import utcnow
from shared import vocab
from shared.canonical import with_hash
from shared.protocol import TUS_OFFSET_STREAM
from shared.sealing import seal
from tests.support.records import OfficeKey

TUS = {"Tus-Resumable": "1.0.0"}
BASE = "/api/v1/uploads"
Auth = dict[str, str]
Register = Callable[..., tuple[str, str]]


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@dataclass(frozen=True)
class SealedFile:
    """A biometric file as the laptop uploads it: the plaintext and its sealed bytes."""

    plain: bytes
    sealed: bytes
    key_id: str

    @property
    def sha256(self) -> str:
        """Of the plaintext: the metadata's ``sha256``, the blob's name."""
        return sha(self.plain)

    @property
    def size(self) -> int:
        """Of the plaintext: the metadata's ``size``."""
        return len(self.plain)

    @property
    def length(self) -> int:
        """Of the sealed bytes: ``Upload-Length`` (size + 48)."""
        return len(self.sealed)


def seal_file(key: OfficeKey, plain: bytes) -> SealedFile:
    """``plain`` sealed to the office key (a fresh seal: other bytes each time)."""
    return SealedFile(plain, seal(key.public, plain), key.kid)


def metadata(sha256: str, size: int | str, key_id: str, media_type: str = "image/jpeg",
             filename: str | None = "x.jpg") -> str:
    """``Upload-Metadata`` in the order HEAD answers it."""
    pairs = [f"sha256 {b64(sha256)}", f"size {b64(str(size))}", f"key_id {b64(key_id)}",
             f"media_type {b64(media_type)}"]
    if filename is not None:
        pairs.append(f"filename {b64(filename)}")
    return ",".join(pairs)


def metadata_of(file: SealedFile, **meta: Any) -> str:
    """The metadata of ``file``; ``meta`` replaces any of its values."""
    values: dict[str, Any] = {"sha256": file.sha256, "size": file.size, "key_id": file.key_id}
    values.update(meta)
    return metadata(**values)


def chunk_checksum(data: bytes) -> str:
    return "sha256 " + base64.b64encode(hashlib.sha256(data).digest()).decode()


def create(client: FlaskClient, auth: dict[str, str], file: SealedFile, *,
           length: int | None = None, **meta: Any) -> Any:
    """POST a creation request for ``file`` (its sealed length and its plaintext's hash and
    size, unless overridden)."""
    return client.post(BASE, headers={
        **TUS, **auth, "Upload-Length": str(file.length if length is None else length),
        "Upload-Metadata": metadata_of(file, **meta)})


def path_of(answer: Any) -> str:
    """The path of a creation answer's Location (relative: ``/api/v1/uploads/<id>``)."""
    location = answer.headers["Location"]
    assert location.startswith(BASE + "/"), location
    return str(location)


def patch(client: FlaskClient, auth: dict[str, str], path: str, offset: int, data: bytes,
          checksum: bool = True, **headers: str) -> Any:
    """PATCH ``data`` at ``offset`` (with its sha256 Upload-Checksum unless told not to)."""
    sent = {**TUS, **auth, "Upload-Offset": str(offset), "Content-Type": TUS_OFFSET_STREAM}
    if checksum:
        sent["Upload-Checksum"] = chunk_checksum(data)
    sent.update(headers)
    return client.patch(path, data=data, headers=sent)


def head(client: FlaskClient, auth: dict[str, str], path: str) -> Any:
    return client.head(path, headers={**TUS, **auth})


def upload(client: FlaskClient, auth: dict[str, str], file: SealedFile, chunk: int = 64 * 1024,
           **meta: Any) -> str:
    """Upload ``file`` whole in chunks (its sealed bytes); return its upload path."""
    answer = create(client, auth, file, **meta)
    assert answer.status_code == 201, answer.get_data(as_text=True)
    path, offset = path_of(answer), int(answer.headers["Upload-Offset"])
    data = file.sealed
    while offset < len(data):
        done = patch(client, auth, path, offset, data[offset:offset + chunk])
        assert done.status_code == 204, done.get_data(as_text=True)
        offset = int(done.headers["Upload-Offset"])
    return path


def store(app: Flask) -> FilesystemBlobStore:
    """The app's folder store; a test that looks at its files is skipped on another store."""
    with app.app_context():
        found = blob_store()
    if not isinstance(found, FilesystemBlobStore):
        pytest.skip("looks at the folder store's files")
    return found


def upload_row(app: Flask, path: str) -> Upload:
    with app.app_context():
        row = db.session.get(Upload, path.rsplit("/", 1)[1])
        assert row is not None
        return row


def partial_size(app: Flask, path: str) -> int | None:
    """Bytes of the upload's partial file (chunk objects on S3), None when there is none."""
    upload_id = path.rsplit("/", 1)[1]
    with app.app_context():
        found = blob_store()
    if isinstance(found, S3BlobStore):
        chunks = found.chunks(upload_id)
        return chunks[-1].end if chunks else None
    file = store(app).partial_path(upload_id)
    return file.stat().st_size if file.exists() else None


def blob_count(app: Flask) -> int:
    with app.app_context():
        return int(db.session.execute(select(func.count()).select_from(Blob)).scalar_one())


def stored_blobs(app: Flask) -> dict[str, bytes]:
    """Every finished blob file (object on S3) in the store, by file name."""
    with app.app_context():
        found = blob_store()
    if isinstance(found, S3BlobStore):
        prefix = f"{found.prefix}sha256/"
        keys = [str(item["Key"]) for item in found._list(prefix)]
        return {key.rsplit("/", 1)[1]: b"".join(found.stream(key)) for key in keys}
    root = store(app).blob_dir
    return {p.name: p.read_bytes() for p in root.rglob("*") if p.is_file()} if root.exists() else {}


@dataclass(frozen=True)
class Snapshot:
    """What the server holds about one upload."""

    offset: int
    state: str
    partial: int | None
    blobs: int


def snapshot(app: Flask, path: str) -> Snapshot:
    row = upload_row(app, path)
    return Snapshot(row.offset, row.state, partial_size(app, path), blob_count(app))


def started(app: Flask, client: FlaskClient, auth: Auth, file: SealedFile, sent: int) -> str:
    """An upload of ``file`` with the first ``sent`` of its sealed bytes on the server."""
    path = path_of(create(client, auth, file))
    if sent:
        assert patch(client, auth, path, 0, file.sealed[:sent]).status_code == 204
    assert snapshot(app, path) == Snapshot(sent, "uploading", sent, 0)
    return path


def expire(app: Flask, path: str) -> None:
    """Let the upload at ``path`` run out (its expiry one second ago)."""
    with app.app_context():
        db.session.execute(update(Upload).where(Upload.id == path.rsplit("/", 1)[1])
                           .values(expires_at=utcnow() - dt.timedelta(seconds=1)))
        db.session.commit()


def with_files(make_record: Callable[..., dict[str, Any]], files: list[bytes],
               **options: Any) -> dict[str, Any]:
    """A valid record naming ``files`` (photo, signature, ... in role order) by their
    plaintext hashes."""
    record = make_record(attachments=0, **options)
    record["attachments"] = [
        {"role": role, "sha256": sha(data), "size": len(data), "media_type": "image/jpeg"}
        for role, data in zip(vocab.BIOMETRIC_ROLES, files, strict=False)
    ]
    return with_hash(record)


def state_of(app: Flask, record_id: str) -> str:
    """The server state of a stored record."""
    with app.app_context():
        stored = db.session.get(Enrollment, record_id)
        assert stored is not None
        return stored.state
