"""tus 1.0.0 at ``/api/v1/uploads``: the happy paths of the upload contract."""

from __future__ import annotations

import os
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from server.core.extensions import db
from server.core.models import Blob
from shared.protocol import TUS_OFFSET_STREAM
from shared.vocab import MAX_ATTACHMENT_BYTES
from tests.support.records import OfficeKey
from tests.support.uploads import (
    BASE,
    TUS,
    Auth,
    Register,
    SealedFile,
    blob_count,
    chunk_checksum,
    create,
    head,
    metadata,
    metadata_of,
    partial_size,
    patch,
    path_of,
    seal_file,
    store,
    stored_blobs,
    upload,
    upload_row,
)


def test_options_advertises_the_server(client: FlaskClient) -> None:
    answer = client.options(BASE)
    assert answer.status_code == 204
    assert answer.headers["Tus-Resumable"] == "1.0.0"
    assert answer.headers["Tus-Version"] == "1.0.0"
    assert answer.headers["Tus-Extension"] == (
        "creation,creation-with-upload,checksum,expiration,termination")
    # The largest file, sealed: 20 MiB and the 48 bytes of the sealed box.
    assert answer.headers["Tus-Max-Size"] == str(MAX_ATTACHMENT_BYTES + 48) == str(
        20 * 1024 * 1024 + 48)
    assert answer.headers["Tus-Checksum-Algorithm"] == "sha256"


def test_create_head_patch_in_chunks_and_finish(
    app: Flask, client: FlaskClient, auth_headers: Auth, device: tuple[str, str],
    sealing_key: OfficeKey,
) -> None:
    file = seal_file(sealing_key, os.urandom(150_000))
    data, sealed = file.plain, file.sealed
    assert len(sealed) == 150_048
    answer = create(client, auth_headers, file, filename="wajah.jpg")
    assert answer.status_code == 201
    assert answer.headers["Tus-Resumable"] == "1.0.0"
    assert answer.headers["Upload-Offset"] == "0"
    assert "GMT" in answer.headers["Upload-Expires"]
    path = path_of(answer)
    upload_id = path.rsplit("/", 1)[1]
    assert len(upload_id) >= 32 and upload_id.replace("-", "").replace("_", "").isalnum()

    status = head(client, auth_headers, path)
    assert status.status_code == 200
    assert (status.headers["Upload-Offset"], status.headers["Upload-Length"]) == ("0", "150048")
    assert status.headers["Cache-Control"] == "no-store"
    assert "Upload-Expires" in status.headers
    assert status.headers["Upload-Metadata"] == metadata(
        file.sha256, 150_000, sealing_key.kid, filename="wajah.jpg")

    first = patch(client, auth_headers, path, 0, sealed[:100_000])
    assert first.status_code == 204
    assert first.headers["Upload-Offset"] == "100000"
    assert "Upload-Expires" in first.headers
    assert head(client, auth_headers, path).headers["Upload-Offset"] == "100000"
    assert partial_size(app, path) == 100_000
    assert blob_count(app) == 0

    last = patch(client, auth_headers, path, 100_000, sealed[100_000:])
    assert last.status_code == 204
    assert last.headers["Upload-Offset"] == "150048"
    assert "Upload-Expires" not in last.headers
    # The server keeps the plaintext, under the plaintext's hash; no partial is left.
    assert stored_blobs(app) == {file.sha256: data}
    assert partial_size(app, path) is None
    assert list(store(app).partial_ids()) == []
    with app.app_context():
        blob = db.session.get(Blob, file.sha256)
        assert blob is not None and (blob.size, blob.media_type) == (150_000, "image/jpeg")
    row = upload_row(app, path)
    assert (row.state, row.offset, row.length, row.plain_size, row.key_id, row.received_bytes,
            row.device_id) == ("finished", 150_048, 150_048, 150_000, sealing_key.kid, 150_048,
                               device[0])
    done = head(client, auth_headers, path)
    assert done.headers["Upload-Offset"] == done.headers["Upload-Length"] == "150048"
    assert "Upload-Expires" not in done.headers
    mode = store(app).blob_path(file.sha256).stat().st_mode & 0o777
    assert mode == 0o600  # personal data: readable by the server only


def test_checksum_is_optional(app: Flask, client: FlaskClient, auth_headers: Auth,
                              sealing_key: OfficeKey) -> None:
    file = seal_file(sealing_key, os.urandom(5000))
    path = path_of(create(client, auth_headers, file, filename=None))
    assert patch(client, auth_headers, path, 0, file.sealed, checksum=False).status_code == 204
    assert stored_blobs(app) == {file.sha256: file.plain}
    assert "filename" not in head(client, auth_headers, path).headers["Upload-Metadata"]


def test_patch_up_to_tus_max_size_over_the_json_body_limit(
    app: Flask, client: FlaskClient, auth_headers: Auth, sealing_key: OfficeKey
) -> None:
    # The largest file there may be, sealed: Tus-Max-Size in one PATCH, above
    # MAX_CONTENT_LENGTH (16 MiB) for JSON bodies.
    file = seal_file(sealing_key, os.urandom(MAX_ATTACHMENT_BYTES))
    path = path_of(create(client, auth_headers, file))
    answer = patch(client, auth_headers, path, 0, file.sealed)
    assert answer.status_code == 204, answer.get_data(as_text=True)
    assert answer.headers["Upload-Offset"] == str(MAX_ATTACHMENT_BYTES + 48)
    assert blob_count(app) == 1
    assert store(app).blob_path(file.sha256).stat().st_size == MAX_ATTACHMENT_BYTES


def test_creating_again_resumes_the_unfinished_upload(
    app: Flask, client: FlaskClient, auth_headers: Auth, sealing_key: OfficeKey
) -> None:
    file = seal_file(sealing_key, os.urandom(70_000))
    first = create(client, auth_headers, file)
    path = path_of(first)
    patch(client, auth_headers, path, 0, file.sealed[:30_000])
    again = create(client, auth_headers, file)  # the client lost the URL
    assert again.status_code == 201
    assert path_of(again) == path
    assert again.headers["Upload-Offset"] == "30000"
    longer = seal_file(sealing_key, file.plain + b"x")
    other_length = create(client, auth_headers, longer, sha256=file.sha256)
    assert path_of(other_length) != path


def test_create_for_a_blob_already_held_has_nothing_to_send(
    app: Flask, client: FlaskClient, auth_headers: Auth, register: Register,
    sealing_key: OfficeKey,
) -> None:
    data = os.urandom(40_000)
    first_path = upload(client, auth_headers, seal_file(sealing_key, data))
    other = {"Authorization": f"Bearer {register('laptop-2')[1]}"}
    upload(client, other, seal_file(sealing_key, data))  # held only for whoever sent it
    for auth in (auth_headers, other):  # each device again
        answer = create(client, auth, seal_file(sealing_key, data))  # sealed anew
        assert answer.status_code == 201
        assert answer.headers["Upload-Offset"] == "40048"
        assert "Upload-Expires" not in answer.headers
        path = path_of(answer)
        assert path != first_path
        status = head(client, auth, path)
        assert status.headers["Upload-Offset"] == status.headers["Upload-Length"] == "40048"
        assert upload_row(app, path).received_bytes == 0
    assert blob_count(app) == 1
    assert stored_blobs(app) == {seal_file(sealing_key, data).sha256: data}


def test_two_devices_uploading_the_same_file_store_one_blob(
    app: Flask, client: FlaskClient, auth_headers: Auth, register: Register,
    sealing_key: OfficeKey,
) -> None:
    data = os.urandom(90_000)
    mine, theirs = seal_file(sealing_key, data), seal_file(sealing_key, data)
    assert mine.sealed != theirs.sealed  # each laptop sealed its own copy
    other = {"Authorization": f"Bearer {register('laptop-2')[1]}"}
    one = path_of(create(client, auth_headers, mine))
    two = path_of(create(client, other, theirs))
    assert one != two
    sent = ((auth_headers, one, mine), (other, two, theirs))
    for auth, path, file in sent:
        assert patch(client, auth, path, 0, file.sealed[:50_000]).status_code == 204
    for auth, path, file in sent:
        answer = patch(client, auth, path, 50_000, file.sealed[50_000:])
        assert answer.status_code == 204, answer.get_data(as_text=True)
        assert upload_row(app, path).state == "finished"
    assert blob_count(app) == 1
    assert stored_blobs(app) == {mine.sha256: data}


def test_same_chunk_sent_twice_is_accepted_once(
    app: Flask, client: FlaskClient, auth_headers: Auth, sealing_key: OfficeKey
) -> None:
    file = seal_file(sealing_key, os.urandom(99_952))
    data = file.sealed  # 100,000 bytes on the wire
    path = path_of(create(client, auth_headers, file))
    assert patch(client, auth_headers, path, 0, data[:40_000]).status_code == 204
    # The answer was lost on the way: the client sends the same chunk again.
    again = patch(client, auth_headers, path, 0, data[:40_000])
    assert again.status_code == 204
    assert again.headers["Upload-Offset"] == "40000"
    # A re-send overlapping the end: only what lies past the server's offset is appended.
    overlap = patch(client, auth_headers, path, 20_000, data[20_000:60_000])
    assert overlap.headers["Upload-Offset"] == "60000"
    assert partial_size(app, path) == 60_000
    assert patch(client, auth_headers, path, 60_000, data[60_000:]).status_code == 204
    assert stored_blobs(app) == {file.sha256: file.plain}
    assert upload_row(app, path).received_bytes == 100_000 + 40_000 + 20_000  # file + repeats
    # Even after the end, repeating the last chunk is answered with the final offset.
    late = patch(client, auth_headers, path, 60_000, data[60_000:])
    assert (late.status_code, late.headers["Upload-Offset"]) == (204, "100000")


def test_termination_deletes_the_partial_bytes(
    app: Flask, client: FlaskClient, auth_headers: Auth, sealing_key: OfficeKey
) -> None:
    file = seal_file(sealing_key, os.urandom(50_000))
    path = path_of(create(client, auth_headers, file))
    patch(client, auth_headers, path, 0, file.sealed[:20_000])
    assert partial_size(app, path) == 20_000
    answer = client.delete(path, headers={**TUS, **auth_headers})
    assert answer.status_code == 204
    assert answer.headers["Tus-Resumable"] == "1.0.0"
    assert partial_size(app, path) is None
    assert upload_row(app, path).state == "terminated"
    assert head(client, auth_headers, path).status_code == 404
    assert client.delete(path, headers={**TUS, **auth_headers}).status_code == 404
    # A new creation starts a fresh upload rather than the terminated one.
    fresh = create(client, auth_headers, file)
    assert path_of(fresh) != path and fresh.headers["Upload-Offset"] == "0"


def test_termination_never_removes_a_finished_blob(
    app: Flask, client: FlaskClient, auth_headers: Auth, sealing_key: OfficeKey
) -> None:
    file = seal_file(sealing_key, os.urandom(10_000))
    path = upload(client, auth_headers, file)
    assert client.delete(path, headers={**TUS, **auth_headers}).status_code == 204
    assert stored_blobs(app) == {file.sha256: file.plain}
    assert blob_count(app) == 1


def test_openapi_documents_the_upload_operations(client: FlaskClient) -> None:
    paths = client.get("/api/v1/openapi.json").json["paths"]
    assert set(paths[BASE]) == {"options", "post"}
    assert {"head", "patch", "delete", "options"} <= set(paths[BASE + "/{upload_id}"])


def create_with(client: FlaskClient, auth: Auth, file: SealedFile, body: bytes,
                **headers: str) -> Any:
    """A creation request carrying ``body`` as its first chunk (tus creation-with-upload)."""
    return client.post(BASE, data=body, headers={
        **TUS, **auth, "Upload-Length": str(file.length), "Upload-Metadata": metadata_of(file),
        "Content-Type": TUS_OFFSET_STREAM, "Upload-Checksum": chunk_checksum(body), **headers})


def test_creation_with_upload_carries_the_first_chunk(
    app: Flask, client: FlaskClient, auth_headers: Auth, sealing_key: OfficeKey
) -> None:
    assert "creation-with-upload" in client.options(BASE).headers["Tus-Extension"]
    file = seal_file(sealing_key, os.urandom(100_000))
    answer = create_with(client, auth_headers, file, file.sealed[:65_536])
    assert answer.status_code == 201
    assert answer.headers["Upload-Offset"] == "65536"
    path = path_of(answer)
    rest = patch(client, auth_headers, path, 65_536, file.sealed[65_536:])
    assert rest.status_code == 204 and rest.headers["Upload-Offset"] == str(file.length)
    assert stored_blobs(app) == {file.sha256: file.plain}


def test_a_small_file_is_one_creation_request(
    app: Flask, client: FlaskClient, auth_headers: Auth, sealing_key: OfficeKey
) -> None:
    file = seal_file(sealing_key, os.urandom(20_000))
    answer = create_with(client, auth_headers, file, file.sealed)
    assert answer.status_code == 201
    assert answer.headers["Upload-Offset"] == str(file.length) == "20048"
    assert stored_blobs(app) == {file.sha256: file.plain}
    again = create_with(client, auth_headers, file, file.sealed)  # a retry after a lost answer
    assert again.status_code == 201 and again.headers["Upload-Offset"] == "20048"
    assert blob_count(app) == 1


def test_a_bad_first_chunk_is_refused_and_the_upload_stays_resumable(
    app: Flask, client: FlaskClient, auth_headers: Auth, sealing_key: OfficeKey
) -> None:
    file = seal_file(sealing_key, os.urandom(30_000))
    damaged = create_with(client, auth_headers, file, file.sealed[:10_000],
                          **{"Upload-Checksum": chunk_checksum(b"something else")})
    assert damaged.status_code == 460
    assert damaged.get_json()["code"] == "checksum_mismatch"
    wrong_type = create_with(client, auth_headers, file, file.sealed[:10_000],
                             **{"Content-Type": "application/octet-stream"})
    assert wrong_type.status_code == 415
    assert "application/offset+octet-stream" in wrong_type.get_json()["detail"]
    plain = create(client, auth_headers, file)  # nothing was appended: offset 0, one upload
    assert plain.status_code == 201 and plain.headers["Upload-Offset"] == "0"
    assert upload(client, auth_headers, file) == path_of(plain)
    assert stored_blobs(app) == {file.sha256: file.plain}


def test_a_creation_body_is_ignored_when_the_upload_has_bytes_already(
    app: Flask, client: FlaskClient, auth_headers: Auth, sealing_key: OfficeKey
) -> None:
    file = seal_file(sealing_key, os.urandom(30_000))
    path = path_of(create(client, auth_headers, file))
    patch(client, auth_headers, path, 0, file.sealed[:12_000])
    again = create_with(client, auth_headers, file, file.sealed[:5_000])
    assert again.status_code == 201 and path_of(again) == path
    assert again.headers["Upload-Offset"] == "12000"  # the 5,000 bytes were not appended
    assert partial_size(app, path) in (12_000, None)  # None: the S3 store keeps no file


def test_successful_answers_are_bodiless_with_a_relative_location_and_errors_stay_problems(
    client: FlaskClient, auth_headers: Auth, sealing_key: OfficeKey,
) -> None:
    file = seal_file(sealing_key, os.urandom(3_000))
    created = create(client, auth_headers, file)
    # Relative to the server: no scheme or host a proxy might have got wrong, fewer bytes.
    path = created.headers["Location"]
    assert path.startswith(BASE + "/") and path == path_of(created)
    sent = patch(client, auth_headers, path, 0, file.sealed[:1_000])
    status = head(client, auth_headers, path)
    done = patch(client, auth_headers, path, 1_000, file.sealed[1_000:])
    gone = client.delete(path, headers={**TUS, **auth_headers})
    answers = {"OPTIONS": client.options(BASE), "POST": created, "PATCH": sent, "HEAD": status,
               "last PATCH": done, "DELETE": gone}
    assert {name: answer.status_code for name, answer in answers.items()} == {
        "OPTIONS": 204, "POST": 201, "PATCH": 204, "HEAD": 200, "last PATCH": 204, "DELETE": 204}
    for name, answer in answers.items():
        assert answer.get_data() == b"", name
        assert "Content-Type" not in answer.headers, name
        assert answer.headers["Tus-Resumable"] == "1.0.0", name
        assert answer.headers["X-Request-Id"], name  # every answer names its request
    assert (sent.headers["Upload-Offset"], status.headers["Upload-Offset"]) == ("1000", "1000")
    assert done.headers["Upload-Offset"] == str(file.length)

    refused = patch(client, auth_headers, path, 0, b"x", checksum=False)
    assert refused.status_code == 404
    assert refused.headers["Content-Type"] == "application/problem+json"
    assert refused.get_json()["code"] == "upload_not_found"
