"""The transport's tus calls against scripted answers: headers, Location, errors by meaning."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from werkzeug.wrappers import Request, Response

from field_client.config import (
    DEFAULT_CHUNK_SIZE,
    MAX_CHUNK_SIZE,
    MIN_CHUNK_SIZE,
    Settings,
    load_settings,
)
from field_client.errors import (
    ChecksumMismatch,
    ConfigInvalid,
    DeviceRevoked,
    NetworkUnavailable,
    PayloadTooLarge,
    ServerRefused,
    ServerStorageFull,
    UploadBusy,
    UploadGone,
    UploadLocationRefused,
    UploadOffsetMismatch,
    UploadTooLarge,
)
from field_client.sync.transport import Transport
from shared.protocol import PROTOCOL_HEADER, PROTOCOL_VERSION
from shared.sealing import SEAL_OVERHEAD
from tests.support.fakes import CutConnection, WsgiAdapter

SERVER = "http://jemput.test"
UPLOAD = f"{SERVER}/api/v1/uploads/abc"
SHA = hashlib.sha256(b"photo").hexdigest()
SEALED = 5 + SEAL_OVERHEAD  # what goes: the 5 plaintext bytes sealed to the office key
KID = "test-key"


@dataclass
class Scripted:
    """A WSGI app answering every request with ``reply(request)``; it notes what it saw."""

    reply: Callable[[Request], Response] = lambda _: Response(status=204)
    seen: list[dict[str, Any]] = field(default_factory=list)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        headers, body = dict(request.headers), request.get_data()
        self.seen.append({"method": request.method, "url": request.url, "headers": headers,
                          "body": body})  # fmt: skip
        return self.reply(request)(environ, start_response)


def tus(status: int, headers: dict[str, str] | None = None) -> Callable[[Request], Response]:
    """A bodiless tus answer."""
    return lambda _: Response(status=status, headers={"Tus-Resumable": "1.0.0", **(headers or {})})


def problem(status: int, code: str, **headers: str) -> Callable[[Request], Response]:
    body = json.dumps({"title": code, "detail": f"{code} detail", "code": code})
    return lambda _: Response(body, status, headers, mimetype="application/problem+json")


def html(status: int) -> Callable[[Request], Response]:
    page = "<html>Silakan login ke hotspot</html>"
    return lambda _: Response(page, status=status, mimetype="text/html")


@pytest.fixture
def scripted() -> Scripted:
    return Scripted()


@pytest.fixture
def transport(scripted: Scripted, tmp_path: Path) -> Transport:
    return Transport(SERVER, Settings(allow_test_kdf=True, home=tmp_path), "s3cret",
                     adapter=WsgiAdapter(scripted))


def test_creation_declares_the_file_and_returns_where_to_send_it(
    scripted: Scripted, transport: Transport
) -> None:
    scripted.reply = tus(201, {"Location": UPLOAD, "Upload-Offset": "0"})
    assert transport.create_upload(SHA, 5, SEALED, KID, "image/jpeg", "photo.jpg") == (UPLOAD, 0)
    [seen] = scripted.seen
    assert (seen["method"], seen["url"]) == ("POST", f"{SERVER}/api/v1/uploads")
    headers = seen["headers"]
    assert headers["Tus-Resumable"] == "1.0.0" and headers["Authorization"] == "Bearer s3cret"
    assert headers[PROTOCOL_HEADER] == str(PROTOCOL_VERSION)
    # Upload-Length counts the sealed bytes; the metadata names the plaintext and the key.
    assert headers["Upload-Length"] == str(SEALED) and seen["body"] == b""
    pairs = dict(item.split(" ") for item in headers["Upload-Metadata"].split(","))
    decoded = {key: base64.b64decode(value).decode() for key, value in pairs.items()}
    assert decoded == {"sha256": SHA, "size": "5", "key_id": KID, "media_type": "image/jpeg",
                       "filename": "photo.jpg"}


def test_a_file_the_server_holds_comes_back_with_nothing_to_send(
    scripted: Scripted, transport: Transport
) -> None:
    scripted.reply = tus(201, {"Location": UPLOAD, "Upload-Offset": str(SEALED)})
    assert transport.create_upload(SHA, 5, SEALED, KID, "image/jpeg") == (UPLOAD, SEALED)


@pytest.mark.parametrize(
    ("location", "resolved"),
    [
        ("/api/v1/uploads/abc", UPLOAD),
        ("uploads/abc", UPLOAD),  # relative to the request URL (RFC 3986)
        ("HTTP://JEMPUT.test:80/api/v1/uploads/abc", "HTTP://JEMPUT.test:80/api/v1/uploads/abc"),
    ],
)
def test_a_location_on_the_same_server_is_resolved(
    scripted: Scripted, transport: Transport, location: str, resolved: str
) -> None:
    scripted.reply = tus(201, {"Location": location, "Upload-Offset": "0"})
    url, _ = transport.create_upload(SHA, 5, SEALED, KID, "image/jpeg")
    assert url.lower() == resolved.lower()


@pytest.mark.parametrize(
    "location",
    [
        "http://evil.example/api/v1/uploads/abc",
        "https://jemput.test/api/v1/uploads/abc",  # another scheme is another origin
        "http://jemput.test:8080/api/v1/uploads/abc",
        "//evil.example/api/v1/uploads/abc",
    ],
)
def test_a_location_on_another_host_is_refused(
    scripted: Scripted, transport: Transport, location: str
) -> None:
    scripted.reply = tus(201, {"Location": location, "Upload-Offset": "0"})
    with pytest.raises(UploadLocationRefused) as caught:
        transport.create_upload(SHA, 5, SEALED, KID, "image/jpeg")
    assert "host lain" in caught.value.message and "tidak ada yang dikirim" in caught.value.message


def test_a_saved_url_on_another_host_gets_no_request(
    scripted: Scripted, transport: Transport
) -> None:
    for call in (
        lambda: transport.upload_offset("http://evil.example/api/v1/uploads/abc"),
        lambda: transport.upload_chunk("http://evil.example/api/v1/uploads/abc", 0, b"x"),
    ):
        with pytest.raises(UploadLocationRefused):
            call()
    assert scripted.seen == []


def test_a_chunk_carries_offset_checksum_and_media_type(
    scripted: Scripted, transport: Transport
) -> None:
    scripted.reply = tus(204, {"Upload-Offset": "8"})
    assert transport.upload_chunk(UPLOAD, 3, b"hello") == 8
    [seen] = scripted.seen
    digest = base64.b64encode(hashlib.sha256(b"hello").digest()).decode()
    assert seen["method"] == "PATCH" and seen["body"] == b"hello"
    assert seen["headers"]["Upload-Offset"] == "3"
    assert seen["headers"]["Upload-Checksum"] == f"sha256 {digest}"
    assert seen["headers"]["Content-Type"] == "application/offset+octet-stream"
    assert seen["headers"]["Tus-Resumable"] == "1.0.0"


def test_head_reads_the_servers_offset(scripted: Scripted, transport: Transport) -> None:
    scripted.reply = tus(200, {"Upload-Offset": "4096", "Upload-Length": "9000"})
    assert transport.upload_offset(UPLOAD) == 4096
    assert scripted.seen[0]["method"] == "HEAD"


@pytest.mark.parametrize(
    ("method", "reply", "error"),
    [
        ("HEAD", tus(404), UploadGone),
        ("HEAD", tus(410), UploadGone),  # expired, or failed the whole-file check
        ("HEAD", tus(401), DeviceRevoked),
        ("HEAD", html(404), NetworkUnavailable),  # no Tus-Resumable: not the tus server
        ("HEAD", tus(503), NetworkUnavailable),
        ("PATCH", problem(404, "upload_not_found"), UploadGone),
        ("PATCH", problem(410, "upload_expired"), UploadGone),
        (
            "PATCH",
            problem(409, "upload_offset_mismatch", **{"Upload-Offset": "7"}),
            UploadOffsetMismatch,
        ),
        ("PATCH", problem(460, "checksum_mismatch"), ChecksumMismatch),
        # The server saw the body cut short: a network matter, re-read the offset and go on.
        (
            "PATCH",
            problem(400, "upload_interrupted", **{"Upload-Offset": "3"}),
            UploadOffsetMismatch,
        ),
        ("PATCH", problem(423, "upload_busy"), UploadBusy),
        ("PATCH", html(423), NetworkUnavailable),
        ("PATCH", problem(507, "storage_full"), ServerStorageFull),
        ("PATCH", problem(500, "internal"), NetworkUnavailable),
        ("PATCH", html(404), NetworkUnavailable),  # a portal's 404 is not "upload gone"
        ("PATCH", html(401), NetworkUnavailable),
        ("POST", problem(401, "unauthorized"), DeviceRevoked),
        ("POST", problem(413, "upload_too_large"), UploadTooLarge),
        ("POST", html(413), PayloadTooLarge),
        ("POST", problem(400, "bad_upload_request"), ServerRefused),
        ("POST", html(403), NetworkUnavailable),
    ],
)
def test_upload_errors_are_mapped_by_meaning(
    scripted: Scripted,
    transport: Transport,
    method: str,
    reply: Callable[[Request], Response],
    error: type[Exception],
) -> None:
    scripted.reply = reply
    calls = {
        "HEAD": lambda: transport.upload_offset(UPLOAD),
        "PATCH": lambda: transport.upload_chunk(UPLOAD, 0, b"data"),
        "POST": lambda: transport.create_upload(SHA, 5, SEALED, KID, "image/jpeg"),
    }
    with pytest.raises(error) as caught:
        calls[method]()
    assert type(caught.value) is error or error is NetworkUnavailable
    assert caught.value.message  # type: ignore[attr-defined]


def test_the_details_travel_with_the_errors(scripted: Scripted, transport: Transport) -> None:
    scripted.reply = problem(409, "upload_offset_mismatch", **{"Upload-Offset": "7"})
    with pytest.raises(UploadOffsetMismatch) as mismatch:
        transport.upload_chunk(UPLOAD, 0, b"data")
    assert mismatch.value.offset == 7
    scripted.reply = problem(460, "blob_hash_mismatch")
    with pytest.raises(ChecksumMismatch) as checksum:
        transport.upload_chunk(UPLOAD, 0, b"data")
    assert checksum.value.code == "blob_hash_mismatch"
    scripted.reply = problem(507, "storage_full")
    with pytest.raises(ServerStorageFull) as full:
        transport.upload_chunk(UPLOAD, 0, b"data")
    assert "server kantor penuh" in full.value.message and full.value.exit_code == 75


@pytest.mark.parametrize(
    "reply",
    [
        lambda _: Response("<html>welcome</html>", status=200, mimetype="text/html"),  # portal
        tus(200),  # no Upload-Offset
        tus(200, {"Upload-Offset": "abc"}),
        tus(307, {"Location": "http://portal.example/login"}),  # redirects are not followed
    ],
)
def test_an_answer_that_is_not_tus_is_no_success(
    scripted: Scripted, transport: Transport, reply: Callable[[Request], Response]
) -> None:
    scripted.reply = reply
    with pytest.raises(NetworkUnavailable) as caught:
        transport.upload_offset(UPLOAD)
    assert "tetap di perangkat" in caught.value.message or "hotspot" in caught.value.message
    assert len(scripted.seen) == 1


def test_a_patch_answer_going_backwards_is_no_success(
    scripted: Scripted, transport: Transport
) -> None:
    scripted.reply = tus(204, {"Upload-Offset": "2"})
    with pytest.raises(NetworkUnavailable):
        transport.upload_chunk(UPLOAD, 5, b"data")


def test_a_cut_connection_is_network_unavailable(scripted: Scripted, transport: Transport) -> None:
    def cut(_: Request) -> Response:
        raise CutConnection

    scripted.reply = cut
    with pytest.raises(NetworkUnavailable) as caught:
        transport.upload_chunk(UPLOAD, 0, b"data")
    assert "posisi terakhir" in caught.value.message


def test_terminate_deletes_and_an_upload_already_gone_is_fine(
    scripted: Scripted, transport: Transport
) -> None:
    scripted.reply = tus(204)
    transport.terminate(UPLOAD)
    scripted.reply = problem(404, "upload_not_found")
    transport.terminate(UPLOAD)
    assert [s["method"] for s in scripted.seen] == ["DELETE", "DELETE"]


# -- configuration ----------------------------------------------------------------------------


def test_chunk_size_default_and_bounds(tmp_path: Path) -> None:
    assert load_settings(tmp_path, environ={}).chunk_size == DEFAULT_CHUNK_SIZE == 512 * 1024
    for good in (MIN_CHUNK_SIZE, 256 * 1024, MAX_CHUNK_SIZE):
        env = {"JEMPUT_FIELD_CHUNK_SIZE": str(good)}
        assert load_settings(tmp_path, environ=env).chunk_size == good


@pytest.mark.parametrize("raw", ["65535", "8388609", "0", "-1", "512K", "banyak"])
def test_a_chunk_size_out_of_bounds_is_refused_clearly(tmp_path: Path, raw: str) -> None:
    with pytest.raises(ConfigInvalid) as caught:
        load_settings(tmp_path, environ={"JEMPUT_FIELD_CHUNK_SIZE": raw})
    assert "JEMPUT_FIELD_CHUNK_SIZE" in caught.value.message
