"""Fewer requests per file on a slow link: the first chunk rides on the creation when the server
names ``creation-with-upload``, and upload requests leave out headers they do not need."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.wrappers import Request, Response

from field_client.client import FieldClient
from field_client.config import Settings
from field_client.errors import NetworkUnavailable
from field_client.sync.transport import Transport
from tests.support.fakes import (
    UPLOADS,
    CutConnection,
    FakeServer,
    FakeTus,
    FakeUpload,
    WsgiAdapter,
    problem,
    registered_client,
)
from tests.support.field import sha_of, states

from .test_uploads import CHUNK, ONE_CHUNK, SEALED, assert_kept, offsets, record

EXTENSIONS = "creation,creation-with-upload,checksum,expiration,termination"


class TusWithUpload(FakeTus):
    """The fake tus app, plus OPTIONS and creations that carry the first bytes."""

    extensions: str = EXTENSIONS
    #: ``cut_creation_when(n)``: creation number n (from 0) with bytes is cut mid-body.
    cut_creation_when: Callable[[int], bool] | None = None
    damage_creation_when: Callable[[int], bool] | None = None
    creation_bodies: list[int]

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        if request.method == "OPTIONS":
            return Response(status=204, headers={"Tus-Extension": self.extensions,
                                                 "Tus-Resumable": "1.0.0"})(
                environ, start_response)
        return super().__call__(environ, start_response)

    def _create(self, request: Request, owner: str) -> Response:
        data = request.get_data()
        number = len(self.creation_bodies)
        if data:
            self.creation_bodies.append(len(data))
            if self.cut_creation_when and self.cut_creation_when(number):
                raise CutConnection
        created = super()._create(request, owner)
        if not data or created.status_code != 201:
            return created
        upload = self.uploads[created.headers["Location"].rsplit("/", 1)[-1]]
        if self.damage_creation_when and self.damage_creation_when(number):
            # Flipped, not zeroed: a sealed file starts with random bytes (1 in 256 is zero).
            data = bytes([data[0] ^ 0xFF]) + data[1:]
        refusal = self._first_bytes(upload, request, data)
        if refusal is not None:
            return refusal
        created.headers["Upload-Offset"] = str(upload.offset)
        return created

    def _first_bytes(self, upload: FakeUpload, request: Request, data: bytes) -> Response | None:
        if upload.offset or upload.finished:  # it resumed an upload: the bytes are not applied
            return None
        if request.headers.get("Upload-Checksum") != _checksum(data):
            return problem(460, "checksum_mismatch")
        upload.data.extend(data)
        return self.finish(upload)


def _checksum(data: bytes) -> str:
    return "sha256 " + base64.b64encode(hashlib.sha256(data).digest()).decode()


@pytest.fixture
def server() -> FakeServer:
    made = FakeServer()
    made.tus = TusWithUpload(made)
    made.tus.creation_bodies = []
    return made


@pytest.fixture
def client(home: Path, server: FakeServer) -> Iterator[FieldClient]:
    with registered_client(
        Settings(allow_test_kdf=True, home=home, batch_size=10, chunk_size=CHUNK), server
    ) as made:
        yield made


def tus(server: FakeServer) -> TusWithUpload:
    assert isinstance(server.tus, TusWithUpload)
    return server.tus


def test_a_one_chunk_file_goes_in_one_request(client: FieldClient, server: FakeServer) -> None:
    first, second = record(client, 1, size=ONE_CHUNK), record(client, 2, size=ONE_CHUNK)
    report = client.sync()
    assert (report.files_uploaded, report.bytes_uploaded) == (2, 2 * CHUNK)
    assert server.tus.patches == []  # no PATCH at all
    assert tus(server).creation_bodies == [CHUNK, CHUNK]
    assert server.blobs == {sha_of(client, first), sha_of(client, second)}
    assert states(client.settings.outbox_path) == {"complete": 2}
    assert client.status()["files"] == {"waiting": 0, "failed": 0, "bytes_left": 0}


def test_a_larger_file_continues_with_patches_after_the_first_chunk(
    client: FieldClient, server: FakeServer
) -> None:
    saved = record(client, 1)
    report = client.sync()
    assert report.bytes_uploaded == SEALED
    assert tus(server).creation_bodies == [CHUNK]
    assert offsets(server) == [CHUNK * n for n in range(1, 6)]
    assert server.blobs == {sha_of(client, saved)}
    assert states(client.settings.outbox_path) == {"complete": 1}


def test_a_first_chunk_damaged_on_the_way_goes_again_by_patch(
    client: FieldClient, server: FakeServer
) -> None:
    saved = record(client, 1, size=ONE_CHUNK)
    tus(server).damage_creation_when = lambda n: n == 0
    report = client.sync()
    assert report.files_uploaded == 1 and report.files_failed == []
    assert offsets(server) == [0]  # the plain creation found the upload; one PATCH sent it
    assert server.blobs == {sha_of(client, saved)}


def test_a_creation_cut_mid_body_loses_nothing_and_the_next_sync_sends_it(
    client: FieldClient, server: FakeServer
) -> None:
    saved = record(client, 1, size=ONE_CHUNK)
    tus(server).cut_creation_when = lambda n: n == 0
    with pytest.raises(NetworkUnavailable):
        client.sync()
    assert_kept(client, saved)
    assert client.sync().files_uploaded == 1
    assert server.blobs == {sha_of(client, saved)}
    assert states(client.settings.outbox_path) == {"complete": 1}


def test_a_file_the_server_got_meanwhile_is_done_without_a_patch(
    client: FieldClient, server: FakeServer
) -> None:
    saved = record(client, 1, size=ONE_CHUNK)
    server.tus.fail_next = [("POST", 503, "unavailable")]
    with pytest.raises(NetworkUnavailable):
        client.sync()
    server.blobs.add(sha_of(client, saved))  # another laptop sent the same bytes
    report = client.sync()
    assert (report.files_uploaded, report.done) == (1, True)
    # The first chunk went along with the creation (the price of one request per file when
    # the server turns out to hold the file already); nothing more was sent.
    assert tus(server).creation_bodies == [CHUNK] and server.tus.patches == []


def test_without_the_extension_the_first_chunk_is_a_patch(
    client: FieldClient, server: FakeServer
) -> None:
    tus(server).extensions = "creation,checksum,expiration,termination"
    record(client, 1, size=ONE_CHUNK)
    assert client.sync().files_uploaded == 1
    assert tus(server).creation_bodies == []
    assert offsets(server) == [0]


# -- the requests themselves ---------------------------------------------------------------


class Recorder:
    """A WSGI app that notes each request and answers like a tus server with the extension."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, dict[str, str], bytes]] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        self.seen.append((request.method, dict(request.headers), request.get_data()))
        if request.method == "OPTIONS":
            answer = Response(status=204, headers={"Tus-Extension": EXTENSIONS})
        else:
            answer = Response(status=201, headers={"Location": f"{UPLOADS}/u1",
                                                   "Upload-Offset": "5"})
        return answer(environ, start_response)


def test_creation_with_bytes_carries_their_checksum_and_no_idle_headers(tmp_path: Path) -> None:
    app = Recorder()
    link = Transport("http://jemput.test", Settings(home=tmp_path), "tok",
                     adapter=WsgiAdapter(app))
    assert "creation-with-upload" in link.tus_extensions()
    assert "creation-with-upload" in link.tus_extensions()  # asked once
    url, offset = link.create_upload("a" * 64, 1, 49, "kid", "image/jpeg", "photo.jpg",
                                     data=b"hello")
    assert (url, offset) == ("http://jemput.test/api/v1/uploads/u1", 5)
    assert [method for method, _, _ in app.seen] == ["OPTIONS", "POST"]
    _, headers, body = app.seen[1]
    assert body == b"hello"
    assert headers["Upload-Checksum"] == _checksum(b"hello")
    assert headers["Content-Type"] == "application/offset+octet-stream"
    assert headers["Tus-Resumable"] == "1.0.0" and headers["Authorization"] == "Bearer tok"
    # Under the API every error is problem+json; HTTP/1.1 keeps the connection anyway.
    assert "Accept" not in headers and "Connection" not in headers


def test_an_options_answer_that_is_not_tus_means_core_only(tmp_path: Path) -> None:
    def portal(environ: dict[str, Any], start_response: Any) -> Any:
        return Response("<html>login</html>", status=405)(environ, start_response)

    link = Transport("http://jemput.test", Settings(home=tmp_path), "tok",
                     adapter=WsgiAdapter(portal))
    assert link.tus_extensions() == frozenset()
