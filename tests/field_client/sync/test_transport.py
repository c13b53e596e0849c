"""The HTTP transport against a scripted local server: headers, gzip, and errors by meaning."""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from werkzeug.wrappers import Request, Response

from field_client.config import Settings
from field_client.errors import (
    DeviceRevoked,
    NetworkUnavailable,
    PayloadTooLarge,
    RegistrationRefused,
    ServerRefused,
    UsageInvalid,
)
from field_client.sync.transport import GZIP_THRESHOLD, Transport, normalize_server_url
from tests.support.wsgi_thread import serving

PUSH_OK = {
    "results": [{"id": "a", "status": "accepted", "state": "complete", "errors": None}],
    "device": {"last_seq": 1, "received": 1, "gaps": []},
}


@dataclass
class Scripted:
    """A local HTTP server answering every request with ``reply(request)``."""

    url: str = ""
    reply: Callable[[Request], Response] = lambda _: Response("{}", mimetype="application/json")
    seen: list[dict[str, Any]] = field(default_factory=list)

    def app(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        body = request.get_data()
        self.seen.append({"path": request.path, "headers": dict(request.headers), "body": body,
                          "args": dict(request.args)})  # fmt: skip
        return self.reply(request)(environ, start_response)


def answer(data: Any, status: int = 200, problem: bool = False) -> Callable[[Request], Response]:
    mimetype = "application/problem+json" if problem else "application/json"
    return lambda _: Response(json.dumps(data), status=status, mimetype=mimetype)


@pytest.fixture(scope="module")
def scripted_server() -> Iterator[Scripted]:
    server = Scripted()
    with serving(server.app) as url:
        server.url = url + "/"
        yield server


@pytest.fixture
def scripted(scripted_server: Scripted) -> Scripted:
    """The module's scripted server, reset for one test."""
    scripted_server.reply = Scripted.reply
    scripted_server.seen.clear()
    return scripted_server


@pytest.fixture
def transport(scripted: Scripted, tmp_path: Any) -> Iterator[Transport]:
    settings = Settings(allow_test_kdf=True, home=tmp_path, connect_timeout=2, read_timeout=2)
    with Transport(scripted.url, settings, token="s3cret", backoff_factor=0) as made:
        yield made


def test_push_sends_token_agent_and_small_bodies_plain(
    scripted: Scripted, transport: Transport
) -> None:
    scripted.reply = answer(PUSH_OK)
    body = b'{"records":[{"id":"a"}]}'
    assert transport.push(body)["results"][0]["status"] == "accepted"
    [request] = scripted.seen
    assert request["path"] == "/api/v1/sync/push"
    assert request["headers"]["Authorization"] == "Bearer s3cret"
    assert request["headers"]["User-Agent"].startswith("jemput-field/")
    assert "Content-Encoding" not in request["headers"]
    assert request["body"] == body


def test_large_push_bodies_are_gzipped(scripted: Scripted, transport: Transport) -> None:
    scripted.reply = answer(PUSH_OK)
    body = b'{"records":[' + b",".join([b'{"id":"a"}'] * 2000) + b"]}"
    assert len(body) > GZIP_THRESHOLD
    transport.push(body)
    [request] = scripted.seen
    assert request["headers"]["Content-Encoding"] == "gzip"
    assert gzip.decompress(request["body"]) == body


def test_pull_passes_the_cursor(scripted: Scripted, transport: Transport) -> None:
    scripted.reply = answer({"changes": [], "cursor": 7, "more": False})
    assert transport.pull(7, 100) == {"changes": [], "cursor": 7, "more": False}
    assert scripted.seen[0]["args"] == {"since": "7", "limit": "100"}


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        (answer({"title": "boom"}, 503, problem=True), NetworkUnavailable),
        (answer({"detail": "bad token", "code": "invalid_token"}, 401, True), DeviceRevoked),
        (answer({"detail": "too big"}, 413, problem=True), PayloadTooLarge),
        (answer({"detail": "not the schema", "code": "invalid"}, 400, True), ServerRefused),
        (lambda _: Response("<html>gateway</html>", status=404), NetworkUnavailable),
        (lambda _: Response("not json", status=200), NetworkUnavailable),
        (lambda _: Response('{"results": [', status=200), NetworkUnavailable),
        (answer({"results": "nope", "device": {}}), NetworkUnavailable),
    ],
)
def test_failures_are_mapped_by_meaning(
    scripted: Scripted,
    transport: Transport,
    reply: Callable[[Request], Response],
    error: type[Exception],
) -> None:
    scripted.reply = reply
    with pytest.raises(error) as caught:
        transport.push(b'{"records":[]}')
    assert caught.value.message  # type: ignore[attr-defined]


def html(status: int) -> Callable[[Request], Response]:
    page = "<html><body>Silakan login ke hotspot</body></html>"
    return lambda _: Response(page, status=status, mimetype="text/html")


@pytest.mark.parametrize(
    "reply",
    [
        html(401),
        html(403),
        html(404),
        html(407),
        html(429),
        answer({"detail": "no"}, 403),  # plain JSON, not a problem
        answer({"title": "Forbidden", "detail": "no"}, 403, problem=True),  # no Jemput code
        lambda _: Response("{not json", status=403, mimetype="application/problem+json"),
    ],
)
def test_a_refusal_from_someone_else_is_network_unavailable(
    scripted: Scripted, transport: Transport, reply: Callable[[Request], Response]
) -> None:
    scripted.reply = reply
    with pytest.raises(NetworkUnavailable) as caught:
        transport.push(b'{"records":[]}')
    assert not isinstance(caught.value, ServerRefused | DeviceRevoked)
    assert "hotspot/portal" in caught.value.message and "HTTP" in caught.value.message
    assert "tetap aman di antrean" in caught.value.message


@pytest.mark.parametrize("status", [408, 429])
@pytest.mark.parametrize("problem", [True, False])
def test_timeouts_and_rate_limits_are_temporary_from_anyone(
    scripted: Scripted, transport: Transport, status: int, problem: bool
) -> None:
    scripted.reply = answer({"detail": "slow down", "code": "rate_limited"}, status, problem)
    with pytest.raises(NetworkUnavailable) as caught:
        transport.pull(0, 10)
    assert f"HTTP {status}" in caught.value.message


def test_a_proxy_413_still_asks_for_smaller_batches(
    scripted: Scripted, transport: Transport
) -> None:
    page = "<html><center>413 Request Entity Too Large</center>nginx</html>"
    scripted.reply = lambda _: Response(page, status=413, mimetype="text/html")
    with pytest.raises(PayloadTooLarge) as caught:
        transport.push(b'{"records":[]}')
    assert "proxy" in caught.value.message and caught.value.code is None


def test_jemput_refusals_stay_refusals(scripted: Scripted, transport: Transport) -> None:
    scripted.reply = answer({"detail": "Akses ditolak", "code": "forbidden"}, 403, True)
    with pytest.raises(ServerRefused) as caught:
        transport.push(b"{}")
    assert (caught.value.status, caught.value.code) == (403, "forbidden")
    scripted.reply = answer({"detail": "bad", "code": "unauthorized"}, 401, True)
    with pytest.raises(DeviceRevoked):
        transport.push(b"{}")


def test_registration_behind_a_portal_is_not_refused(
    scripted: Scripted, transport: Transport
) -> None:
    scripted.reply = html(403)
    with pytest.raises(NetworkUnavailable) as caught:
        transport.register("ABCD-EFGH-JKLM", "laptop")
    assert not isinstance(caught.value, RegistrationRefused)


def test_refusal_carries_the_problem_detail(scripted: Scripted, transport: Transport) -> None:
    scripted.reply = answer({"detail": "records: wajib", "code": "invalid"}, 400, True)
    with pytest.raises(ServerRefused) as caught:
        transport.push(b"{}")
    assert caught.value.status == 400 and caught.value.code == "invalid"
    assert "records: wajib" in caught.value.message


def test_fields_added_by_a_newer_server_are_ignored(
    scripted: Scripted, transport: Transport
) -> None:
    extended = json.loads(json.dumps(PUSH_OK))
    extended["results"][0]["queue_position"] = 3
    extended["device"]["team"] = "TIM-1"
    extended["server_time"] = "2026-11-27T03:12:45Z"
    scripted.reply = answer(extended)
    assert transport.push(b"{}")["results"][0]["status"] == "accepted"


def test_registration_refusals_are_explained(scripted: Scripted, transport: Transport) -> None:
    scripted.reply = answer({"detail": "used", "code": "registration_code_used"}, 409, True)
    with pytest.raises(RegistrationRefused) as caught:
        transport.register("ABCD-EFGH-JKLM", "laptop")
    assert caught.value.code == "registration_code_used"
    assert "sudah dipakai" in caught.value.message
    assert json.loads(scripted.seen[0]["body"]) == {
        "code": "ABCD-EFGH-JKLM", "name": "laptop", "first_seq": 1
    }


def test_closed_port_is_network_unavailable(tmp_path: Any) -> None:
    settings = Settings(allow_test_kdf=True, home=tmp_path, connect_timeout=1, read_timeout=1)
    transport = Transport("http://127.0.0.1:9", settings, backoff_factor=0)
    with transport, pytest.raises(NetworkUnavailable) as caught:
        transport.pull(0, 10)
    assert "tidak dapat dihubungi" in caught.value.message


def test_slow_answer_is_a_timeout(scripted: Scripted, tmp_path: Any) -> None:
    gate = threading.Event()

    def slow(_: Request) -> Response:
        gate.wait(3)
        return Response("{}")

    scripted.reply = slow
    settings = Settings(allow_test_kdf=True, home=tmp_path, connect_timeout=1, read_timeout=0.3)
    with (
        Transport(scripted.url, settings) as transport,
        pytest.raises(NetworkUnavailable) as caught,
    ):
        transport.push(b"{}")
    gate.set()
    assert "tepat waktu" in caught.value.message
    assert len(scripted.seen) == 1  # a read timeout is not retried: the push may have landed


@pytest.mark.parametrize("url", ["", "jemput.example.id", "ftp://x", "http://"])
def test_server_url_must_be_http(url: str) -> None:
    with pytest.raises(UsageInvalid):
        normalize_server_url(url)


def test_server_url_loses_its_trailing_slash() -> None:
    assert normalize_server_url(" https://jemput.example.id/ ") == "https://jemput.example.id"
