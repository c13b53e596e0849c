"""What a file costs on the wire, against the REAL server over real HTTP: the field client's sync
goes through a recording TCP proxy, and the heads of the tus requests and answers are read
from the bytes that crossed it.

On a slow village link every header is paid for once per file (a biometric file is one
creation request carrying its bytes, and one bodiless answer): upload requests leave out what
the tus server does not use (``Accept``, ``Accept-Encoding``, the optional ``filename``
metadata), and the server's successful tus answers carry no ``Content-Type`` (they have no
body) and a relative ``Location``. The request id is still answered on every answer.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from field_client.client import FieldClient
from field_client.config import Settings
from tests.support.faultproxy import FaultProxy
from tests.support.field import DK, biometric_files, person
from tests.support.live_server import LiveServer

UPLOADS = "/api/v1/uploads"


@dataclass
class Head:
    """The start line and the headers (lower-cased names) of one HTTP message."""

    line: str
    headers: dict[str, str]


def heads(stream: bytes) -> list[Head]:
    """Every message head in one direction of one connection, in order (bodies skipped by
    their ``Content-Length``: this sync sends no HEAD, whose answer would have none)."""
    found: list[Head] = []
    position = 0
    while position < len(stream):
        end = stream.index(b"\r\n\r\n", position)
        line, *fields = stream[position:end].decode("latin-1").split("\r\n")
        headers = {}
        for item in fields:
            name, _, value = item.partition(":")
            headers[name.strip().lower()] = value.strip()
        found.append(Head(line, headers))
        position = end + 4 + int(headers.get("content-length", "0"))
    return found


def exchanges(proxy: FaultProxy) -> list[tuple[Head, Head]]:
    """Every (request, answer) pair that crossed the proxy."""
    assert proxy.transcripts is not None
    pairs: list[tuple[Head, Head]] = []
    for transcript in proxy.transcripts:
        requests = heads(bytes(transcript.up))
        answers = heads(bytes(transcript.down))
        assert len(requests) == len(answers), (requests, answers)
        pairs.extend(zip(requests, answers, strict=True))
    return pairs


@pytest.fixture
def proxy(live_server: LiveServer) -> Iterator[FaultProxy]:
    parts = urlsplit(live_server.url)
    with FaultProxy((str(parts.hostname), int(parts.port or 80)), record=True) as made:
        yield made


@pytest.fixture
def synced(home: Path, live_server: LiveServer, proxy: FaultProxy) -> list[tuple[Head, Head]]:
    """One record with its 14 files, sent through the proxy; every exchange of that sync."""
    settings = Settings(allow_test_kdf=True, home=home, read_timeout=10)
    with FieldClient(settings=settings) as client:
        client.register(proxy.url, live_server.registration_code("TIM-1"), "laptop-1")
        files = biometric_files(home.parent / "scans")
        client.enroll(person(1), "op.a", files=files, data_key=DK)
        assert proxy.transcripts is not None
        del proxy.transcripts[:]  # the registration's connection: not the sync's
        report = client.sync()
    assert report.files_uploaded == len(files) and not report.files_failed
    return exchanges(proxy)


def uploads(synced: list[tuple[Head, Head]], method: str) -> list[tuple[Head, Head]]:
    return [(request, answer) for request, answer in synced
            if request.line.startswith(f"{method} {UPLOADS}")]


def test_each_file_is_one_creation_with_a_lean_head(synced: list[tuple[Head, Head]]) -> None:
    creations = uploads(synced, "POST")
    assert len(creations) == 14 and not uploads(synced, "PATCH")
    for request, _ in creations:
        headers = request.headers
        # What the tus server needs: the token, the protocol, tus, the file and its checksum.
        assert headers["authorization"].startswith("Bearer ")
        assert headers["tus-resumable"] == "1.0.0" and headers["jemput-protocol"]
        assert headers["content-type"] == "application/offset+octet-stream"
        assert headers["upload-checksum"].startswith("sha256 ")
        assert int(headers["upload-length"]) == int(headers["content-length"])
        # Nothing it does not use.
        assert not {"accept", "accept-encoding", "connection"} & headers.keys(), headers
        metadata = dict(item.split(" ") for item in headers["upload-metadata"].split(","))
        assert set(metadata) == {"sha256", "size", "key_id", "media_type"}
        assert re.fullmatch(r"[0-9a-f]{64}", base64.b64decode(metadata["sha256"]).decode())


def test_successful_tus_answers_are_bodiless_and_lean(synced: list[tuple[Head, Head]]) -> None:
    creations = uploads(synced, "POST")
    options = uploads(synced, "OPTIONS")
    assert len(options) == 1 and options[0][1].line.startswith("HTTP/1.1 204")
    for request, answer in [*creations, *options]:
        assert answer.line.startswith(("HTTP/1.1 201", "HTTP/1.1 204")), answer.line
        assert "content-type" not in answer.headers, (request.line, answer.headers)
        assert answer.headers["tus-resumable"] == "1.0.0"
        assert re.fullmatch(r"[A-Za-z0-9._-]{8,64}", answer.headers["x-request-id"])
    for request, answer in creations:
        assert answer.headers["content-length"] == "0"
        assert answer.headers["upload-offset"] == request.headers["upload-length"]
        # Relative: the laptop resolves it against the origin it posted to.
        assert re.fullmatch(rf"{UPLOADS}/[A-Za-z0-9_-]{{16,64}}", answer.headers["location"])


def test_other_answers_keep_their_content_type(synced: list[tuple[Head, Head]]) -> None:
    push = [answer for request, answer in synced if request.line.startswith("POST /api/v1/sync")]
    assert push and all(answer.headers["content-type"] == "application/json" for answer in push)
