"""Forwarded headers count only from the configured reverse proxies (``JEMPUT_TRUSTED_PROXIES``):
from anyone else the socket's address, scheme and host stay; from a trusted proxy the client's
address, the scheme and the host come from ``X-Forwarded-*``. Also the settings read beside it
(``JEMPUT_TRUSTED_PROXIES``, ``JEMPUT_OFFICE_IDLE_MINUTES``): defaults and refused values.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, request

from tests.support.server_app import make_app

CLIENT = "203.0.113.9"
FORWARDED = {"X-Forwarded-For": CLIENT, "X-Forwarded-Proto": "https",
             "X-Forwarded-Host": "jemput.example.go.id"}


def _app(tmp_path: Path, **config: Any) -> Flask:
    app = make_app(tmp_path / "instance", f"sqlite:///{tmp_path / 'jemput.db'}", **config)

    def peer() -> dict[str, Any]:
        return {"addr": request.remote_addr, "scheme": request.scheme, "host": request.host,
                "secure": request.is_secure}

    app.add_url_rule("/test-only-peer", "test_peer", peer)
    return app


def _seen(app: Flask, peer: str, headers: dict[str, str]) -> dict[str, Any]:
    answer = app.test_client().get("/test-only-peer", headers=headers,
                                   environ_base={"REMOTE_ADDR": peer})
    assert answer.status_code == 200
    seen: dict[str, Any] = answer.json or {}
    return seen


def test_by_default_no_forwarded_header_is_believed(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JEMPUT_TRUSTED_PROXIES", raising=False)
    app = _app(tmp_path)
    assert app.config["JEMPUT_TRUSTED_PROXIES"] == ()
    for peer in ("127.0.0.1", "10.0.0.5"):  # not even from the loopback
        assert _seen(app, peer, FORWARDED) == {"addr": peer, "scheme": "http",
                                               "host": "localhost", "secure": False}


def test_an_untrusted_peer_keeps_its_socket_address(tmp_path: Path) -> None:
    app = _app(tmp_path, JEMPUT_TRUSTED_PROXIES="10.0.0.0/24")
    for peer in ("192.0.2.7", "10.0.1.5", "::1"):
        assert _seen(app, peer, FORWARDED) == {"addr": peer, "scheme": "http",
                                               "host": "localhost", "secure": False}


def test_a_trusted_proxy_gives_the_client_scheme_and_host(tmp_path: Path) -> None:
    app = _app(tmp_path, JEMPUT_TRUSTED_PROXIES="127.0.0.1, 10.0.0.0/24")
    for peer in ("127.0.0.1", "10.0.0.5", "::ffff:10.0.0.5"):
        assert _seen(app, peer, FORWARDED) == {"addr": CLIENT, "scheme": "https",
                                               "host": "jemput.example.go.id", "secure": True}
    # Only what the proxy sends: no X-Forwarded-Proto, no https.
    assert _seen(app, "10.0.0.5", {"X-Forwarded-For": CLIENT}) == {
        "addr": CLIENT, "scheme": "http", "host": "localhost", "secure": False}
    # A proxy without X-Forwarded-For: the proxy is the client.
    assert _seen(app, "10.0.0.5", {})["addr"] == "10.0.0.5"


def test_https_comes_only_from_a_trusted_proxy(tmp_path: Path) -> None:
    app = _app(tmp_path, JEMPUT_TRUSTED_PROXIES="10.0.0.1")
    proto = {"X-Forwarded-Proto": "https"}
    assert _seen(app, "10.0.0.1", proto)["scheme"] == "https"
    assert _seen(app, "10.0.0.2", proto)["scheme"] == "http"


def test_a_client_cannot_pick_its_address_through_the_proxy(tmp_path: Path) -> None:
    """The proxy appends the address it saw: what the client put in front is not believed."""
    app = _app(tmp_path, JEMPUT_TRUSTED_PROXIES="10.0.0.0/24")
    spoofed = {"X-Forwarded-For": f"198.51.100.1, {CLIENT}"}
    assert _seen(app, "10.0.0.5", spoofed)["addr"] == CLIENT
    # Two trusted proxies in a row (load balancer, then nginx): the nearest untrusted address.
    chained = {"X-Forwarded-For": f"198.51.100.1, {CLIENT}, 10.0.0.7"}
    assert _seen(app, "10.0.0.5", chained)["addr"] == CLIENT


def test_the_setting_is_read_from_the_environment(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JEMPUT_TRUSTED_PROXIES", " 127.0.0.1 ,10.0.0.0/24,, ::1 ")
    app = _app(tmp_path)
    assert app.config["JEMPUT_TRUSTED_PROXIES"] == (
        ipaddress.ip_network("127.0.0.1/32"), ipaddress.ip_network("10.0.0.0/24"),
        ipaddress.ip_network("::1/128"))
    assert _seen(app, "::1", FORWARDED)["addr"] == CLIENT


@pytest.mark.parametrize("value", ["localhost", "10.0.0.1/8", "10.0.0.0/33", "300.1.1.1"])
def test_a_bad_proxy_entry_stops_the_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           value: str) -> None:
    monkeypatch.setenv("JEMPUT_TRUSTED_PROXIES", f"127.0.0.1,{value}")
    with pytest.raises(ValueError, match="JEMPUT_TRUSTED_PROXIES") as refused:
        _app(tmp_path)
    assert value in str(refused.value)


def test_office_idle_minutes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JEMPUT_OFFICE_IDLE_MINUTES", raising=False)
    assert _app(tmp_path / "a").config["JEMPUT_OFFICE_IDLE_MINUTES"] == 30
    for value, minutes in (("1", 1), (" 45 ", 45), ("480", 480)):
        monkeypatch.setenv("JEMPUT_OFFICE_IDLE_MINUTES", value)
        assert _app(tmp_path / value.strip()).config["JEMPUT_OFFICE_IDLE_MINUTES"] == minutes


@pytest.mark.parametrize("value", ["0", "481", "-5", "1.5", "tiga puluh"])
def test_bad_office_idle_minutes_stop_the_start(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch,
                                                value: str) -> None:
    monkeypatch.setenv("JEMPUT_OFFICE_IDLE_MINUTES", value)
    with pytest.raises(ValueError, match=r"JEMPUT_OFFICE_IDLE_MINUTES .* 1 to 480"):
        _app(tmp_path)
