"""A stock tus client (tuspy) against the real server over HTTP: standard tus, not a dialect.

What tuspy sends is a file sealed to the office key, as the laptop sends it; the metadata names
the plaintext's hash and size and the key, and the server stores the plaintext it opened."""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Iterator

import pytest
from flask import Flask
from tusclient.client import TusClient
from tusclient.exceptions import TusCommunicationError, TusUploadFailed
from tusclient.uploader import Uploader

from server.core.extensions import db
from server.core.models import Blob
from shared.protocol import PROTOCOL_HEADER, PROTOCOL_VERSION
from tests.support.records import OfficeKey
from tests.support.uploads import SealedFile, blob_count, seal_file, store, stored_blobs
from tests.support.wsgi_thread import serving

CHUNK = 64 * 1024


@pytest.fixture
def base_url(app: Flask) -> Iterator[str]:
    """The app served by werkzeug on a free loopback port, in a thread."""
    with serving(app) as url:
        yield url


@pytest.fixture
def tus(base_url: str, device: tuple[str, str]) -> TusClient:
    return TusClient(base_url + "/api/v1/uploads",
                     headers={"Authorization": f"Bearer {device[1]}",
                              PROTOCOL_HEADER: str(PROTOCOL_VERSION)})


class Sha256Uploader(Uploader):
    """tuspy's uploader with the checksum algorithm this server speaks (its default is sha1)."""

    CHECKSUM_ALGORITHM_PAIR = ("sha256", hashlib.sha256)


def tus_metadata(file: SealedFile) -> dict[str, str]:
    return {"sha256": file.sha256, "size": str(file.size), "key_id": file.key_id,
            "media_type": "image/jpeg", "filename": "x.jpg"}


def uploader(tus: TusClient, file: SealedFile, cls: type[Uploader] = Uploader,
             **options: object) -> Uploader:
    return cls(file_stream=io.BytesIO(file.sealed), chunk_size=CHUNK,
               metadata=tus_metadata(file), client=tus, **options)


def test_tuspy_uploads_a_file_in_chunks(app: Flask, tus: TusClient,
                                        sealing_key: OfficeKey) -> None:
    data = os.urandom(300_000)
    digest = hashlib.sha256(data).hexdigest()
    file = seal_file(sealing_key, data)
    tus.uploader(file_stream=io.BytesIO(file.sealed), chunk_size=CHUNK,
                 metadata=tus_metadata(file)).upload()
    assert stored_blobs(app) == {digest: data}
    with app.app_context():
        blob = db.session.get(Blob, digest)
        assert blob is not None and blob.size == 300_000
    assert list(store(app).partial_ids()) == []


def test_tuspy_with_sha256_chunk_checksums(app: Flask, tus: TusClient,
                                           sealing_key: OfficeKey) -> None:
    data = os.urandom(200_000)
    file = seal_file(sealing_key, data)
    uploader(tus, file, Sha256Uploader, upload_checksum=True).upload()
    assert stored_blobs(app) == {hashlib.sha256(data).hexdigest(): data}


def test_tuspy_resumes_from_the_servers_offset(app: Flask, tus: TusClient,
                                               sealing_key: OfficeKey) -> None:
    data = os.urandom(300_000)
    file = seal_file(sealing_key, data)
    first = uploader(tus, file)
    first.upload(stop_at=2 * CHUNK)  # the laptop is switched off here
    assert first.url is not None and first.offset == 2 * CHUNK
    resumed = uploader(tus, file, url=first.url)  # asks the server (HEAD) where to go on
    assert resumed.offset == 2 * CHUNK
    resumed.upload()
    assert stored_blobs(app) == {hashlib.sha256(data).hexdigest(): data}


def test_tuspy_with_a_file_the_server_holds_sends_nothing_new(app: Flask, tus: TusClient,
                                                              sealing_key: OfficeKey) -> None:
    data = os.urandom(100_000)
    file = seal_file(sealing_key, data)
    uploader(tus, file).upload()
    again = uploader(tus, file)
    again.upload()  # tuspy re-sends from 0; the server confirms the repeat and the full offset
    assert again.offset == file.length
    assert blob_count(app) == 1


def test_tuspy_sha1_checksums_are_refused_clearly(app: Flask, tus: TusClient,
                                                  sealing_key: OfficeKey) -> None:
    file = seal_file(sealing_key, os.urandom(10_000))
    with pytest.raises((TusCommunicationError, TusUploadFailed)) as refused:
        uploader(tus, file, upload_checksum=True).upload()
    assert "checksum_algorithm_unsupported" in str(refused.value.response_content)
    assert blob_count(app) == 0
