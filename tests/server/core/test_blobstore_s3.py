"""The bucket blob store against a real S3 server (SeaweedFS, started by the fixtures).

The store alone: chunk objects, truncation, promotion, discard, anchors. Then two Flask apps
over one database and one bucket, as two app hosts: an upload begun on one goes on on the
other, a finished file is served from the bucket by either, ``clean-uploads`` cleans the
bucket, and a partial held by a request on one host is busy for the other.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from server.accounts import devices
from server.core import keyring
from server.core.blobstore import BlobStore, blob_store
from server.core.blobstore.filesystem import FilesystemBlobStore
from server.core.blobstore.s3 import S3BlobStore, file_locker, parse_url
from server.core.errors import UploadBusy
from server.core.extensions import dispose_engines
from server.registry import regions
from server.review.record_view import open_file
from tests.support.records import build_record, envelope, office_key
from tests.support.seaweed import SeaweedS3, fresh_prefix, s3_config, s3_env, seaweed
from tests.support.server_app import PROTOCOL, device_client, make_app, truncate_all
from tests.support.uploads import (
    create,
    head,
    patch,
    path_of,
    seal_file,
    upload_row,
    with_files,
)

__all__ = ["s3_env", "seaweed"]  # the fixtures, used by name

UPLOAD_ID = "u" * 32


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def store(s3_env: SeaweedS3, tmp_path: Path) -> S3BlobStore:
    return S3BlobStore(s3_env.client(), s3_env.bucket, fresh_prefix(),
                       file_locker(tmp_path / "locks"))


def test_the_url_names_bucket_and_prefix() -> None:
    assert parse_url("s3://jemput-files/kab/sekadau/") == ("jemput-files", "kab/sekadau")
    assert parse_url("s3://jemput-files") == ("jemput-files", "")
    with pytest.raises(ValueError):
        parse_url("s3:///nobucket")


def test_chunks_become_objects_and_a_blob(store: S3BlobStore, seaweed: SeaweedS3) -> None:
    typed: BlobStore = store  # the bucket store is a BlobStore (checked by mypy)
    data = os.urandom(300_000)
    with typed.partial(UPLOAD_ID) as part:
        assert part.size == 0
        part.append(data[:100_000])
        part.sync()
        part.append(data[100_000:250_000])
        assert part.size == 250_000 and part.read(99_990, 20) == data[99_990:100_010]
        part.sync()
    assert seaweed.keys(store.partial_prefix(UPLOAD_ID)) == [
        store.chunk_key(UPLOAD_ID, 0), store.chunk_key(UPLOAD_ID, 100_000)]
    assert list(store.partial_ids()) == [UPLOAD_ID]
    with typed.partial(UPLOAD_ID) as part:  # a later request, on any host: the size is listed
        assert part.size == 250_000
        part.append(data[250_000:])
        part.sync()
        assert part.sha256() == sha(data)
        assert part.read(0, part.size) == data
        typed.promote(UPLOAD_ID, sha(data))
    assert list(store.partial_ids()) == [] and seaweed.keys(store.partial_prefix(UPLOAD_ID)) == []
    assert typed.has_blob(sha(data)) and not typed.has_blob(sha(b"other"))
    with typed.open_blob(sha(data)) as stream:
        assert stream.read() == data
    with pytest.raises(FileNotFoundError):
        typed.open_blob(sha(b"other"))


def test_truncate_deletes_and_rewrites_chunks(store: S3BlobStore, seaweed: SeaweedS3) -> None:
    with store.partial(UPLOAD_ID) as part:
        for piece in (b"a" * 10, b"b" * 10, b"c" * 10):
            part.append(piece)
            part.sync()
        part.append(b"d" * 5)  # buffered, not yet an object
        part.truncate(32)
        assert part.size == 32
        part.truncate(15)
        assert part.size == 15 and part.read(0, 100) == b"a" * 10 + b"b" * 5
    assert seaweed.keys(store.partial_prefix(UPLOAD_ID)) == [
        store.chunk_key(UPLOAD_ID, 0), store.chunk_key(UPLOAD_ID, 10)]
    with store.partial(UPLOAD_ID) as part:
        assert part.size == 15 and part.sha256() == sha(b"a" * 10 + b"b" * 5)
        part.truncate(0)
    assert list(store.partial_ids()) == []


def test_an_unsynced_append_is_not_stored(store: S3BlobStore) -> None:
    with store.partial(UPLOAD_ID) as part:
        part.append(b"x" * 100)
    with store.partial(UPLOAD_ID) as part:
        assert part.size == 0


def test_a_chunk_past_a_gap_is_dropped(store: S3BlobStore) -> None:
    store.put(store.chunk_key(UPLOAD_ID, 0), b"a" * 10)
    store.put(store.chunk_key(UPLOAD_ID, 20), b"c" * 10)  # left by a crash mid-truncate
    with store.partial(UPLOAD_ID) as part:
        assert part.size == 10
    assert store.discard(UPLOAD_ID) and not store.discard(UPLOAD_ID)


def test_promote_keeps_a_stored_blob_and_copies_one_chunk(store: S3BlobStore) -> None:
    data = b"photo" * 1000
    for _ in range(2):
        with store.partial(UPLOAD_ID) as part:
            part.append(data)
            part.sync()
            store.promote(UPLOAD_ID, sha(data))
    with store.open_blob(sha(data)) as stream:
        assert stream.read() == data
    assert list(store.partial_ids()) == []


def test_the_lock_is_exclusive(store: S3BlobStore) -> None:
    with store.partial(UPLOAD_ID), pytest.raises(UploadBusy), store.partial(UPLOAD_ID):
        pass
    with store.partial(UPLOAD_ID):  # released
        pass


def test_anchors_are_written_once(store: S3BlobStore) -> None:
    assert store.put_anchor("20261206T101500Z-000002.json", b"two")
    assert store.put_anchor("20261206T101500Z-000001.json", b"one")
    assert not store.put_anchor("20261206T101500Z-000001.json", b"again")
    assert list(store.anchors()) == [("20261206T101500Z-000001.json", b"one"),
                                     ("20261206T101500Z-000002.json", b"two")]
    with pytest.raises(ValueError):
        store.put_anchor("../x.json", b"")


# --- two app hosts over one database and one bucket


@dataclass
class Hosts:
    a: Flask
    b: Flask
    prefix: str
    auth: dict[str, str]

    def client(self, app: Flask) -> FlaskClient:
        return device_client(app)


@pytest.fixture(params=["sqlite", "postgresql"])
def hosts(request: pytest.FixtureRequest, tmp_path: Path, s3_env: SeaweedS3) -> Iterator[Hosts]:
    """Two apps (own instance folders) sharing the database, key ring, secret and bucket."""
    shared = tmp_path / "shared"
    shared.mkdir()
    ring = shared / keyring.FILE_NAME
    keyring.ensure(ring)
    if request.param == "sqlite":
        shutil.copyfile(request.getfixturevalue("sqlite_template"), shared / "jemput.db")
        url = f"sqlite:///{shared / 'jemput.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    prefix = fresh_prefix()
    # One host on SQLite: both apps share the lock folder (JEMPUT_BLOB_DIR/locks).
    config = {**s3_config(s3_env, prefix), "JEMPUT_KEYRING": str(ring),
              "SECRET_KEY": "shared-secret", "JEMPUT_BLOB_DIR": str(shared / "blobs")}
    apps = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        apps.append(make_app(tmp_path / name, url, **config))
    if request.param == "postgresql":
        with apps[0].app_context():
            truncate_all()
            regions.seed_sekadau()
    with apps[0].app_context():
        code = devices.create_registration_code("TIM-1")
    answer = device_client(apps[0]).post("/api/v1/devices",
                                         json={"code": code, "name": "laptop-1"})
    assert answer.status_code == 201 and answer.json is not None, answer.json
    yield Hosts(apps[0], apps[1], prefix, {"Authorization": f"Bearer {answer.json['token']}",
                                           **PROTOCOL})
    for app in apps:
        dispose_engines(app)


def test_an_upload_goes_on_on_another_host(hosts: Hosts, seaweed: SeaweedS3) -> None:
    file = seal_file(office_key(hosts.a), os.urandom(120_000))
    on_a, on_b = hosts.client(hosts.a), hosts.client(hosts.b)
    path = path_of(create(on_a, hosts.auth, file))
    assert patch(on_a, hosts.auth, path, 0, file.sealed[:50_000]).status_code == 204
    # The next chunk lands on host B: it continues at 50 000, it does not reset to 0.
    assert head(on_b, hosts.auth, path).headers["Upload-Offset"] == "50000"
    answer = patch(on_b, hosts.auth, path, 50_000, file.sealed[50_000:100_000])
    assert answer.status_code == 204 and answer.headers["Upload-Offset"] == "100000"
    # Resumed from HEAD on host A again, to the end.
    offset = int(head(on_a, hosts.auth, path).headers["Upload-Offset"])
    assert offset == 100_000
    assert patch(on_a, hosts.auth, path, offset, file.sealed[offset:]).status_code == 204
    assert upload_row(hosts.a, path).state == "finished"
    blob = f"{hosts.prefix}/sha256/{file.sha256[:2]}/{file.sha256[2:4]}/{file.sha256}"
    assert seaweed.keys(hosts.prefix) == [blob]  # no chunk left, nothing on local disk needed
    for app in (hosts.a, hosts.b):  # the finished file is served from the bucket by both
        with app.app_context(), blob_store().open_blob(file.sha256) as stream:
            assert stream.read() == file.plain


def test_a_record_file_is_served_from_the_bucket(hosts: Hosts) -> None:
    file = seal_file(office_key(hosts.a), os.urandom(20_000))
    on_a = hosts.client(hosts.a)
    record = with_files(lambda **options: build_record(1, **options), [file.plain])
    pushed = on_a.post("/api/v1/sync/push", json={"records": [envelope(record, office_key(
        hosts.a))]}, headers=hosts.auth)
    assert pushed.status_code == 200, pushed.json
    path = path_of(create(on_a, hosts.auth, file))
    assert patch(on_a, hosts.auth, path, 0, file.sealed).status_code == 204
    with hosts.b.app_context():  # the office view on the other host reads it from the bucket
        stream, media_type = open_file(record["id"], "photo")
        with stream:
            assert stream.read() == file.plain and media_type == "image/jpeg"


def test_clean_uploads_cleans_the_bucket(hosts: Hosts, seaweed: SeaweedS3) -> None:
    file = seal_file(office_key(hosts.a), os.urandom(30_000))
    on_a = hosts.client(hosts.a)
    path = path_of(create(on_a, hosts.auth, file))
    assert patch(on_a, hosts.auth, path, 0, file.sealed[:10_000]).status_code == 204
    with hosts.b.app_context():  # a leftover no upload owns (a crash between)
        store = blob_store()
        assert isinstance(store, S3BlobStore)
        store.put(store.chunk_key("leftover" * 4, 0), b"stale")
        from tests.support.uploads import expire

    expire(hosts.a, path)
    result = hosts.b.test_cli_runner().invoke(args=["clean-uploads"])
    assert result.exit_code == 0, result.output
    assert seaweed.keys(f"{hosts.prefix}/partial/") == []
    assert upload_row(hosts.a, path).state == "expired"


def test_a_partial_held_on_one_host_is_busy_on_the_other(hosts: Hosts) -> None:
    upload_id = "busy" * 8
    with (hosts.a.app_context(), blob_store().partial(upload_id), hosts.b.app_context(),
          pytest.raises(UploadBusy), blob_store().partial(upload_id)):
        pass  # entered in order: A holds it, then B tries
    with hosts.b.app_context(), blob_store().partial(upload_id):
        pass


def test_the_blob_url_chooses_the_store(tmp_path: Path, s3_env: SeaweedS3) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    folder = make_app(tmp_path / "a", url, JEMPUT_BLOB_URL=f"file://{tmp_path / 'files'}")
    with folder.app_context():
        found = blob_store()
        assert isinstance(found, FilesystemBlobStore) and found.root == tmp_path / "files"
    assert folder.config["JEMPUT_BLOB_DIR"] == str(tmp_path / "files")  # free space checked there
    bucket = make_app(tmp_path / "b", url, **s3_config(s3_env, "kab/sekadau"))
    with bucket.app_context():
        found = blob_store()
        assert isinstance(found, S3BlobStore)
        assert (found.bucket, found.prefix) == (s3_env.bucket, "kab/sekadau/")
    with pytest.raises(ValueError, match="JEMPUT_BLOB_URL"):
        make_app(tmp_path / "c", url, JEMPUT_BLOB_URL="ftp://nowhere")


def test_an_import_file_waits_in_the_bucket_until_deleted(store: S3BlobStore,
                                                          tmp_path: Path) -> None:
    big = os.urandom(9 * 1024 * 1024)  # past boto3's multipart threshold (8 MiB)
    source = tmp_path / "penduduk.csv"
    source.write_bytes(big)
    with source.open("rb") as reading:
        store.put_import("ab" * 16 + ".csv", reading)
    with store.open_import("ab" * 16 + ".csv") as body:
        assert sha(body.read()) == sha(big)
    store.delete_import("ab" * 16 + ".csv")
    store.delete_import("ab" * 16 + ".csv")  # twice: nothing to delete is fine
    with pytest.raises(FileNotFoundError):
        store.open_import("ab" * 16 + ".csv")
    with pytest.raises(ValueError):
        store.put_import("../escape.csv", source.open("rb"))


def test_with_a_bucket_the_local_disk_does_not_refuse_uploads(hosts: Hosts) -> None:
    # A floor no local disk has: with the files in the bucket it refuses nothing (with a
    # folder store the same floor is 507 storage_full, tests/server/sync/uploads).
    hosts.b.config["JEMPUT_MIN_FREE_BYTES"] = 2**62
    file = seal_file(office_key(hosts.b), os.urandom(30_000))
    on_b = hosts.client(hosts.b)
    path = path_of(create(on_b, hosts.auth, file))
    assert patch(on_b, hosts.auth, path, 0, file.sealed).status_code == 204
    assert upload_row(hosts.b, path).state == "finished"
    ready = on_b.get("/readyz")  # the instance folder's disk still counts for readiness
    assert ready.status_code == 503 and ready.json is not None
    assert "disk" in str(ready.json["errors"]) and "blob_store" not in str(ready.json["errors"])
