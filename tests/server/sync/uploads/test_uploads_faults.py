"""tus uploads: every bad input and fault gets its clear problem, and nothing is lost.

Each test checks the problem+json code and then what is stored: the upload's row (offset,
state), its partial file, the blob table and the blob store.
"""

from __future__ import annotations

import datetime as dt
import errno
import io
import os
import threading
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from server.core.blobstore import blob_store, filesystem
from server.core.extensions import db
from server.core.models import Blob, Upload
from server.core.models.blob import BlobHolder
from server.core.timeutil import utcnow
from shared.protocol import TUS_OFFSET_STREAM
from shared.vocab import MAX_ATTACHMENT_BYTES
from tests.support.records import OfficeKey
from tests.support.server_app import assert_problem
from tests.support.uploads import (
    BASE,
    TUS,
    Auth,
    Register,
    SealedFile,
    Snapshot,
    b64,
    blob_count,
    chunk_checksum,
    create,
    expire,
    head,
    metadata,
    metadata_of,
    partial_size,
    patch,
    path_of,
    seal_file,
    sha,
    snapshot,
    started,
    store,
    stored_blobs,
    upload,
    upload_row,
)


def upload_rows(app: Flask) -> int:
    with app.app_context():
        return int(db.session.execute(select(func.count()).select_from(Upload)).scalar_one())


DATA = os.urandom(60_000)
SEALED_LENGTH = 60_048  # what travels: DATA sealed to the office key


@pytest.fixture
def file(sealing_key: OfficeKey) -> SealedFile:
    """``DATA`` sealed to the app's office key."""
    return seal_file(sealing_key, DATA)


def test_missing_tus_resumable_is_412(app: Flask, client: FlaskClient, auth_headers: Auth,
                                      file: SealedFile) -> None:
    path = started(app, client, auth_headers, file, 10_000)
    answers = [
        client.post(BASE, headers={**auth_headers, "Upload-Length": "10",
                                   "Upload-Metadata": metadata_of(file)}),
        client.head(path, headers=auth_headers),
        client.patch(path, data=file.sealed[10_000:], headers={
            **auth_headers, "Upload-Offset": "10000", "Content-Type": TUS_OFFSET_STREAM}),
        client.delete(path, headers={**auth_headers, "Tus-Resumable": "0.2.2"}),
    ]
    for answer in answers:
        assert answer.status_code == 412
        assert answer.headers["Tus-Version"] == "1.0.0"
        assert answer.headers["Tus-Resumable"] == "1.0.0"
    for answer in (answers[0], answers[2], answers[3]):  # HEAD answers carry no body
        assert_problem(answer, 412, "tus_version_unsupported")
    assert upload_rows(app) == 1
    assert snapshot(app, path) == Snapshot(10_000, "uploading", 10_000, 0)


@pytest.mark.parametrize("authorization", [None, "Bearer " + "x" * 43, "Basic abc"])
def test_missing_or_bad_token_is_401(
    app: Flask, client: FlaskClient, auth_headers: Auth, authorization: str | None,
    file: SealedFile,
) -> None:
    path = started(app, client, auth_headers, file, 10_000)
    bad = {} if authorization is None else {"Authorization": authorization}
    answers = [
        create(client, bad, file),
        client.patch(path, data=file.sealed[10_000:], headers={
            **TUS, **bad, "Upload-Offset": "10000", "Content-Type": TUS_OFFSET_STREAM}),
        client.delete(path, headers={**TUS, **bad}),
    ]
    for answer in answers:
        assert_problem(answer, 401, "unauthorized")
        assert answer.headers["Tus-Resumable"] == "1.0.0"
        assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    assert head(client, bad, path).status_code == 401
    assert upload_rows(app) == 1
    assert snapshot(app, path) == Snapshot(10_000, "uploading", 10_000, 0)


def test_wrong_content_type_is_415(app: Flask, client: FlaskClient, auth_headers: Auth,
                                   file: SealedFile) -> None:
    path = started(app, client, auth_headers, file, 10_000)
    answer = patch(client, auth_headers, path, 10_000, file.sealed[10_000:],
                   **{"Content-Type": "application/octet-stream"})
    assert_problem(answer, 415, "unsupported_media_type")
    assert snapshot(app, path) == Snapshot(10_000, "uploading", 10_000, 0)


@pytest.mark.parametrize("offset", [0, 5_000, 20_000])
def test_wrong_offset_is_409_with_the_servers_offset(
    app: Flask, client: FlaskClient, auth_headers: Auth, offset: int, file: SealedFile,
) -> None:
    path = started(app, client, auth_headers, file, 10_000)
    # Bytes that do not repeat what the server holds (or that start past its offset).
    answer = patch(client, auth_headers, path, offset, os.urandom(20_000))
    assert_problem(answer, 409, "upload_offset_mismatch")
    assert answer.headers["Upload-Offset"] == "10000"
    assert snapshot(app, path) == Snapshot(10_000, "uploading", 10_000, 0)
    assert store(app).partial_path(path.rsplit("/", 1)[1]).read_bytes() == file.sealed[:10_000]


def test_chunk_checksum_mismatch_is_460_and_nothing_is_appended(
    app: Flask, client: FlaskClient, auth_headers: Auth, file: SealedFile,
) -> None:
    path = started(app, client, auth_headers, file, 10_000)
    answer = patch(client, auth_headers, path, 10_000, file.sealed[10_000:30_000],
                   **{"Upload-Checksum": chunk_checksum(b"something else")})
    assert_problem(answer, 460, "checksum_mismatch")
    assert answer.headers["Upload-Offset"] == "10000"
    assert snapshot(app, path) == Snapshot(10_000, "uploading", 10_000, 0)
    # The refused bytes are counted as sent: they crossed the link.
    assert upload_row(app, path).received_bytes == 30_000


@pytest.mark.parametrize(("header", "code"), [
    ("sha1 " + b64("x" * 20), "checksum_algorithm_unsupported"),
    ("md5 abc", "checksum_algorithm_unsupported"),
    ("sha256 not-base64!", "bad_upload_request"),
    ("sha256 " + b64("too short"), "bad_upload_request"),
])
def test_unusable_checksum_header_is_400(
    app: Flask, client: FlaskClient, auth_headers: Auth, header: str, code: str,
    file: SealedFile,
) -> None:
    path = started(app, client, auth_headers, file, 10_000)
    answer = patch(client, auth_headers, path, 10_000, file.sealed[10_000:],
                   **{"Upload-Checksum": header})
    assert_problem(answer, 400, code)
    assert snapshot(app, path) == Snapshot(10_000, "uploading", 10_000, 0)


def test_whole_file_hash_mismatch_is_460_and_the_bytes_are_discarded(
    app: Flask, client: FlaskClient, auth_headers: Auth, sealing_key: OfficeKey
) -> None:
    # The sealed file opens, but the plaintext is not the file the record names.
    declared = sha(b"the file the record names")
    file = seal_file(sealing_key, DATA)
    path = path_of(create(client, auth_headers, file, sha256=declared))
    assert patch(client, auth_headers, path, 0, file.sealed[:30_000]).status_code == 204
    answer = patch(client, auth_headers, path, 30_000, file.sealed[30_000:])
    assert_problem(answer, 460, "blob_hash_mismatch")
    assert snapshot(app, path) == Snapshot(SEALED_LENGTH, "failed", None, 0)
    assert stored_blobs(app) == {}
    assert list(store(app).partial_ids()) == []
    assert head(client, auth_headers, path).status_code == 410
    again = patch(client, auth_headers, path, 30_000, file.sealed[30_000:])
    assert_problem(again, 410, "upload_failed")
    # The client starts over with a new upload.
    fresh = create(client, auth_headers, file, sha256=declared)
    assert path_of(fresh) != path and fresh.headers["Upload-Offset"] == "0"


def test_a_file_larger_than_the_largest_is_refused_at_creation(
    app: Flask, client: FlaskClient, auth_headers: Auth, file: SealedFile
) -> None:
    too_big = MAX_ATTACHMENT_BYTES + 1
    answer = create(client, auth_headers, file, length=too_big + 48, size=too_big)
    assert_problem(answer, 413, "upload_too_large")
    assert "Location" not in answer.headers
    assert upload_rows(app) == 0
    assert list(store(app).partial_ids()) == []


def test_bytes_past_upload_length_are_413_and_not_appended(
    app: Flask, client: FlaskClient, auth_headers: Auth, file: SealedFile,
) -> None:
    path = started(app, client, auth_headers, file, 10_000)
    answer = patch(client, auth_headers, path, 10_000, file.sealed[10_000:] + b"extra")
    assert_problem(answer, 413, "upload_too_large")
    assert snapshot(app, path) == Snapshot(10_000, "uploading", 10_000, 0)
    # The same without Content-Length (a chunked body): refused once it runs past the end.
    body = file.sealed[10_000:] + b"extra"
    chunked = client.patch(path, data=body, headers={
        **TUS, **auth_headers, "Upload-Offset": "10000", "Content-Type": TUS_OFFSET_STREAM,
    }, environ_overrides={"CONTENT_LENGTH": "", "wsgi.input_terminated": True})
    assert_problem(chunked, 413, "upload_too_large")
    assert snapshot(app, path) == Snapshot(10_000, "uploading", 10_000, 0)


def test_another_devices_upload_is_not_found(
    app: Flask, client: FlaskClient, auth_headers: Auth, register: Register, file: SealedFile,
) -> None:
    path = started(app, client, auth_headers, file, 10_000)
    thief = {"Authorization": f"Bearer {register('laptop-2')[1]}"}
    assert head(client, thief, path).status_code == 404
    answers = [
        patch(client, thief, path, 10_000, file.sealed[10_000:]),
        patch(client, thief, path, 0, os.urandom(10_000)),
        client.delete(path, headers={**TUS, **thief}),
    ]
    for answer in answers:
        assert_problem(answer, 404, "upload_not_found")
    assert snapshot(app, path) == Snapshot(10_000, "uploading", 10_000, 0)
    assert store(app).partial_path(path.rsplit("/", 1)[1]).read_bytes() == file.sealed[:10_000]
    for unknown in (BASE + "/" + "A" * 32, BASE + "/short", BASE + "/%2E%2E"):
        assert_problem(patch(client, auth_headers, unknown, 0, b"x"), 404, "upload_not_found")


def test_expired_upload_is_410_and_its_bytes_are_deleted(
    app: Flask, client: FlaskClient, auth_headers: Auth, file: SealedFile,
) -> None:
    path = started(app, client, auth_headers, file, 10_000)
    expire(app, path)
    assert head(client, auth_headers, path).status_code == 410
    assert snapshot(app, path) == Snapshot(10_000, "expired", None, 0)
    assert_problem(patch(client, auth_headers, path, 10_000, file.sealed[10_000:]), 410,
                   "upload_expired")
    assert partial_size(app, path) is None
    fresh = create(client, auth_headers, file)
    assert path_of(fresh) != path and fresh.headers["Upload-Offset"] == "0"


def test_expiry_follows_the_last_patch(app: Flask, client: FlaskClient, auth_headers: Auth,
                                       file: SealedFile) -> None:
    app.config.update(JEMPUT_UPLOAD_EXPIRY_HOURS=24, JEMPUT_UPLOAD_IDLE_HOURS=2)
    path = path_of(create(client, auth_headers, file))
    before = upload_row(app, path).expires_at
    assert dt.timedelta(hours=1, minutes=59) < before - utcnow() <= dt.timedelta(hours=2)
    patch(client, auth_headers, path, 0, file.sealed[:1000])
    after = upload_row(app, path).expires_at
    assert after > before
    assert dt.timedelta(hours=1, minutes=59) < after - utcnow() <= dt.timedelta(hours=2)


def test_disk_full_is_507_and_the_partial_is_cut_back(
    app: Flask, client: FlaskClient, auth_headers: Auth, monkeypatch: pytest.MonkeyPatch,
    file: SealedFile,
) -> None:
    store(app)  # the folder store's disk (skipped on S3)
    path = started(app, client, auth_headers, file, 10_000)
    real = filesystem._write_all
    calls: list[int] = []

    def fill_disk(fd: int, data: bytes, offset: int) -> None:
        calls.append(len(data))
        if len(calls) > 1:  # the first piece fits, the second half-fits and the disk is full
            real(fd, data[: len(data) // 2], offset)
            raise OSError(errno.ENOSPC, "No space left on device")
        real(fd, data, offset)

    monkeypatch.setattr(filesystem, "_write_all", fill_disk)
    body = file.sealed[10_000:]
    answer = client.patch(path, data=body, headers={
        **TUS, **auth_headers, "Upload-Offset": "10000", "Content-Type": TUS_OFFSET_STREAM,
    }, environ_overrides={"wsgi.input": Trickle(body, piece=20_000)})
    assert_problem(answer, 507, "storage_full")
    assert len(calls) == 2
    assert snapshot(app, path) == Snapshot(10_000, "uploading", 10_000, 0)
    assert store(app).partial_path(path.rsplit("/", 1)[1]).read_bytes() == file.sealed[:10_000]
    monkeypatch.setattr(filesystem, "_write_all", real)
    assert patch(client, auth_headers, path, 10_000, body).status_code == 204
    assert stored_blobs(app) == {sha(DATA): DATA}


class Trickle(io.RawIOBase):
    """A request body that arrives in pieces, and optionally breaks off (a cut connection)."""

    def __init__(self, data: bytes, piece: int, cut_after: int | None = None) -> None:
        self.data, self.piece, self.cut_after, self.sent = data, piece, cut_after, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self.cut_after is not None and self.sent >= self.cut_after:
            raise ConnectionResetError("the link dropped")
        size = min(len(buffer), self.piece, len(self.data) - self.sent)
        buffer[:size] = self.data[self.sent:self.sent + size]
        self.sent += size
        return size


@pytest.mark.parametrize("how", ["reset", "short"])
def test_cut_body_without_checksum_keeps_what_arrived(
    app: Flask, client: FlaskClient, auth_headers: Auth, how: str, file: SealedFile,
) -> None:
    path = started(app, client, auth_headers, file, 10_000)
    body = file.sealed[10_000:]
    stream: Any = Trickle(body, 8_192, cut_after=24_576) if how == "reset" else io.BytesIO(
        body[:24_576])
    answer = client.patch(path, data=body, headers={
        **TUS, **auth_headers, "Upload-Offset": "10000", "Content-Type": TUS_OFFSET_STREAM,
    }, environ_overrides={"wsgi.input": stream})
    assert_problem(answer, 400, "upload_interrupted")
    assert answer.headers["Upload-Offset"] == str(10_000 + 24_576)
    assert snapshot(app, path) == Snapshot(34_576, "uploading", 34_576, 0)
    assert patch(client, auth_headers, path, 34_576, file.sealed[34_576:]).status_code == 204
    assert stored_blobs(app) == {sha(DATA): DATA}


def test_cut_body_with_checksum_is_discarded(
    app: Flask, client: FlaskClient, auth_headers: Auth, file: SealedFile,
) -> None:
    path = started(app, client, auth_headers, file, 10_000)
    body = file.sealed[10_000:]
    answer = client.patch(path, data=body, headers={
        **TUS, **auth_headers, "Upload-Offset": "10000", "Content-Type": TUS_OFFSET_STREAM,
        "Upload-Checksum": chunk_checksum(body),
    }, environ_overrides={"wsgi.input": Trickle(body, 8_192, cut_after=24_576)})
    assert_problem(answer, 400, "upload_interrupted")
    assert snapshot(app, path) == Snapshot(10_000, "uploading", 10_000, 0)
    assert upload_row(app, path).received_bytes == 10_000 + 24_576


def test_a_second_writer_of_the_same_upload_is_423(
    app: Flask, client: FlaskClient, auth_headers: Auth, file: SealedFile,
) -> None:
    path = started(app, client, auth_headers, file, 10_000)
    upload_id = path.rsplit("/", 1)[1]
    holding, release = threading.Event(), threading.Event()

    def writer() -> None:  # another request, in the middle of writing this upload
        with app.app_context(), blob_store().partial(upload_id):
            holding.set()
            release.wait(10)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert holding.wait(10)
        assert_problem(patch(client, auth_headers, path, 10_000, file.sealed[10_000:]), 423,
                       "upload_busy")
        assert_problem(client.delete(path, headers={**TUS, **auth_headers}), 423, "upload_busy")
        assert head(client, auth_headers, path).status_code == 200  # reading needs no lock
    finally:
        release.set()
        thread.join()
    assert snapshot(app, path) == Snapshot(10_000, "uploading", 10_000, 0)
    assert patch(client, auth_headers, path, 10_000, file.sealed[10_000:]).status_code == 204


def bad_creations(kid: str) -> list[dict[str, str]]:
    """Creation requests that are each wrong in one way (the office key ``kid`` is known)."""
    def meta(sha256: str = sha(DATA), size: int | str = 60_000, **rest: Any) -> str:
        return metadata(sha256, size, rest.pop("key_id", kid), **rest)

    length = str(SEALED_LENGTH)
    return [
        {"Upload-Metadata": meta()},  # no Upload-Length
        {"Upload-Length": "0", "Upload-Metadata": meta()},
        {"Upload-Length": "-5", "Upload-Metadata": meta()},
        {"Upload-Length": "ten", "Upload-Metadata": meta()},
        {"Upload-Defer-Length": "1", "Upload-Metadata": meta()},
        {"Upload-Length": length},  # no metadata
        {"Upload-Length": length, "Upload-Metadata": f"media_type {b64('image/jpeg')}"},
        {"Upload-Length": length, "Upload-Metadata": meta(sha(DATA).upper())},
        {"Upload-Length": length, "Upload-Metadata": meta("abc")},
        {"Upload-Length": length, "Upload-Metadata": meta(media_type="text/html")},
        {"Upload-Length": length, "Upload-Metadata": f"sha256 !!!,media_type {b64('image/png')}"},
        {"Upload-Length": length, "Upload-Metadata": meta() + ",sha256 " + b64("a")},
        {"Upload-Length": length, "Upload-Metadata": meta(filename="x" * 300)},
        # Sealing: the plaintext size missing or not a number, a length that is not size + 48
        # (a clear file sent by mistake), a key id that is not one.
        {"Upload-Length": length, "Upload-Metadata": ",".join(
            part for part in meta().split(",") if not part.startswith("size "))},
        {"Upload-Length": length, "Upload-Metadata": meta(size="ten")},
        {"Upload-Length": "60000", "Upload-Metadata": meta()},
        {"Upload-Length": length, "Upload-Metadata": meta(key_id="../x")},
    ]


def test_bad_creation_requests_are_400(
    app: Flask, client: FlaskClient, auth_headers: Auth, sealing_key: OfficeKey,
) -> None:
    for headers in bad_creations(sealing_key.kid):  # one app for all: each writes nothing
        answer = client.post(BASE, headers={**TUS, **auth_headers, **headers})
        assert answer.status_code == 400, headers
        assert_problem(answer, 400, "bad_upload_request")
    assert upload_rows(app) == 0
    assert list(store(app).partial_ids()) == []


def test_patch_without_upload_offset_is_400(
    app: Flask, client: FlaskClient, auth_headers: Auth, file: SealedFile,
) -> None:
    path = started(app, client, auth_headers, file, 10_000)
    answer = client.patch(path, data=file.sealed[10_000:], headers={
        **TUS, **auth_headers, "Content-Type": TUS_OFFSET_STREAM})
    assert_problem(answer, 400, "bad_upload_request")
    assert snapshot(app, path) == Snapshot(10_000, "uploading", 10_000, 0)


def test_a_file_sealed_to_an_unknown_key_is_refused_at_creation(
    app: Flask, client: FlaskClient, auth_headers: Auth, file: SealedFile,
) -> None:
    answer = create(client, auth_headers, file, key_id="20200101-deadbeef")
    assert_problem(answer, 422, "upload_unreadable")
    assert upload_rows(app) == 0 and blob_count(app) == 0


def test_a_sealed_file_that_does_not_open_is_discarded(
    app: Flask, client: FlaskClient, auth_headers: Auth, file: SealedFile,
) -> None:
    # Right length, right key id, but not a box of this key: nothing of it is stored.
    path = path_of(create(client, auth_headers, file))
    answer = patch(client, auth_headers, path, 0, os.urandom(SEALED_LENGTH))
    assert_problem(answer, 422, "upload_unreadable")
    assert upload_row(app, path).state == "failed"
    assert blob_count(app) == 0 and stored_blobs(app) == {}


def test_held_blob_with_another_length_is_refused(
    app: Flask, client: FlaskClient, auth_headers: Auth, sealing_key: OfficeKey,
) -> None:
    upload(client, auth_headers, seal_file(sealing_key, DATA))
    longer = seal_file(sealing_key, DATA + b"!")
    answer = create(client, auth_headers, longer, sha256=sha(DATA))
    problem = assert_problem(answer, 400, "bad_upload_request")
    assert str(len(DATA)) not in problem["detail"]  # the hash alone reveals nothing of a file
    assert upload_rows(app) == 1


def test_a_finished_upload_answers_the_same_whatever_bytes_are_sent(
    app: Flask, client: FlaskClient, auth_headers: Auth, file: SealedFile,
) -> None:
    # No byte-by-byte oracle: right or wrong bytes, the answer is "all 60048 are there".
    sealed = file.sealed
    path = upload(client, auth_headers, file)
    for body in (sealed[50_000:51_000], os.urandom(1_000), bytes([sealed[50_000] ^ 1])):
        answer = patch(client, auth_headers, path, 50_000, body)
        assert answer.status_code == 204
        assert answer.headers["Upload-Offset"] == str(SEALED_LENGTH)
    assert_problem(patch(client, auth_headers, path, 50_000, sealed[50_000:] + b"!"), 413,
                   "upload_too_large")
    assert stored_blobs(app) == {sha(DATA): DATA}


def test_the_same_file_finished_by_two_uploads_at_once_is_one_blob(
    app: Flask, client: FlaskClient, auth_headers: Auth, register: Register,
    monkeypatch: pytest.MonkeyPatch, sealing_key: OfficeKey,
) -> None:
    other = {"Authorization": f"Bearer {register('laptop-2')[1]}"}
    my_file, their_file = seal_file(sealing_key, DATA), seal_file(sealing_key, DATA)
    assert my_file.sealed != their_file.sealed  # each laptop seals anew: other bytes
    mine = path_of(create(client, auth_headers, my_file))
    theirs = path_of(create(client, other, their_file))
    assert patch(client, other, theirs, 0, their_file.sealed).status_code == 204
    # This upload checked for the blob row just before the other one committed it.
    real_get = db.session.get
    misses = []

    def stale_get(model: Any, key: Any, **options: Any) -> Any:
        if model.__name__ == "Blob" and not misses:
            misses.append(key)
            return None
        return real_get(model, key, **options)

    monkeypatch.setattr(db.session, "get", stale_get)
    answer = patch(client, auth_headers, mine, 0, my_file.sealed)
    assert answer.status_code == 204, answer.get_data(as_text=True)
    assert misses == [sha(DATA)]
    assert upload_row(app, mine).state == upload_row(app, theirs).state == "finished"
    assert blob_count(app) == 1
    assert stored_blobs(app) == {sha(DATA): DATA}


def test_an_upload_whose_file_landed_meanwhile_from_another_device_goes_on(
    app: Flask, client: FlaskClient, auth_headers: Auth, register: Register,
    file: SealedFile, sealing_key: OfficeKey,
) -> None:
    # Another device sent the same file while this upload stood at 0: this device still sends
    # its bytes (they are verified), and the file stays stored once.
    mine = path_of(create(client, auth_headers, file))
    other = {"Authorization": f"Bearer {register('laptop-2')[1]}"}
    upload(client, other, seal_file(sealing_key, DATA))
    answer = patch(client, auth_headers, mine, 0, file.sealed[:1000])
    assert answer.status_code == 204, answer.get_data(as_text=True)
    assert answer.headers["Upload-Offset"] == "1000"
    assert upload_row(app, mine).state == "uploading"
    assert patch(client, auth_headers, mine, 1000, file.sealed[1000:]).status_code == 204
    assert upload_row(app, mine).state == "finished"
    assert blob_count(app) == 1
    assert stored_blobs(app) == {sha(DATA): DATA}


def test_an_upload_whose_file_this_device_sent_meanwhile_is_finished_not_resent(
    app: Flask, client: FlaskClient, auth_headers: Auth, device: tuple[str, str],
    file: SealedFile,
) -> None:
    # The file reached the store from this very device (another upload of it, or this upload
    # before a crash lost its commit) while this upload still stood at 0: checked, finished.
    mine = path_of(create(client, auth_headers, file))
    with app.app_context():
        path = store(app).blob_path(sha(DATA))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(DATA)
        db.session.add(Blob(sha256=sha(DATA), size=len(DATA), media_type="image/jpeg",
                            created_at=utcnow()))
        db.session.flush()
        db.session.add(BlobHolder(sha256=sha(DATA), device_id=device[0], created_at=utcnow()))
        db.session.commit()
    answer = patch(client, auth_headers, mine, 0, file.sealed[:1000])
    assert answer.status_code == 204, answer.get_data(as_text=True)
    assert answer.headers["Upload-Offset"] == str(SEALED_LENGTH)
    assert upload_row(app, mine).state == "finished"
    assert blob_count(app) == 1
    assert stored_blobs(app) == {sha(DATA): DATA}
