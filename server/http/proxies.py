"""Forwarded headers believed only from the configured reverse proxies.

Behind a proxy the socket's peer is the proxy, and the client's address, the scheme and the
host arrive in ``X-Forwarded-For``, ``-Proto``, ``-Host`` and ``-Port``. Anyone can send those
headers, so they are applied (by werkzeug's ``ProxyFix``) only when the socket's peer is one of
``JEMPUT_TRUSTED_PROXIES``; from anyone else they are ignored. In a chain of trusted proxies the
client is the nearest address in ``X-Forwarded-For`` that is not itself a trusted proxy.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from server.core.config import Network

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment


class TrustedProxies:
    """WSGI middleware: ``ProxyFix`` for requests from a trusted proxy, nothing for the rest."""

    def __init__(self, app: WSGIApplication, networks: Iterable[Network]) -> None:
        self.app = app
        self.networks = tuple(networks)
        # One ProxyFix per chain length (one proxy, two in a row, ...), made on first use.
        self._fixes: dict[int, ProxyFix] = {}

    def trusted(self, address: str | None) -> bool:
        """Whether ``address`` (an IP, maybe IPv4-mapped IPv6) is one of the proxies."""
        try:
            ip = ipaddress.ip_address((address or "").strip())
        except ValueError:
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return any(ip in network for network in self.networks)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Any:
        if not self.trusted(environ.get("REMOTE_ADDR")):
            return self.app(environ, start_response)
        chain = [part.strip() for part in environ.get("HTTP_X_FORWARDED_FOR", "").split(",")
                 if part.strip()]
        hops = 1
        while hops < len(chain) and self.trusted(chain[-hops]):
            hops += 1
        fix = self._fixes.get(hops)
        if fix is None:
            fix = self._fixes[hops] = ProxyFix(self.app, x_for=hops, x_proto=1, x_host=1,
                                               x_port=1)
        return fix(environ, start_response)


def init_app(app: Flask) -> None:
    """Wrap the app when ``JEMPUT_TRUSTED_PROXIES`` names any proxy; else leave it alone."""
    networks = app.config["JEMPUT_TRUSTED_PROXIES"]
    if networks:
        app.wsgi_app = TrustedProxies(app.wsgi_app, networks)  # type: ignore[method-assign]
