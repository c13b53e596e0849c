"""``jemput-field ui``: serve the operator's web app on this laptop (127.0.0.1 only)."""

from __future__ import annotations

import argparse
import errno
import logging
import socket
import webbrowser
from typing import Any

from werkzeug.serving import WSGIRequestHandler, make_server

from field_client.cli.args import command
from field_client.cli.text import err, out
from field_client.client import FieldClient
from field_client.errors import UsageInvalid

DEFAULT_PORT = 8765
#: The app listens on loopback only: nobody else on the village Wi-Fi can reach it.
HOST = "127.0.0.1"
log = logging.getLogger(__name__)


class _RequestLog(WSGIRequestHandler):
    """Requests are logged at debug level by path only: a query string can hold a NIK."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        path = self.path.split("?", 1)[0]
        log.debug("%s %s %s", self.command, path, code)


def add_ui(commands: Any) -> None:
    """Add the ``ui`` subcommand."""
    ui = command(commands, "ui", "buka aplikasi operator di peramban (tanpa sinyal)", _ui)
    ui.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port di 127.0.0.1 (bawaan {DEFAULT_PORT})"
    )
    ui.add_argument("--buka", action="store_true", help="buka peramban sekalian")


def _ui(client: FieldClient, args: argparse.Namespace) -> int:
    from field_client.ui import create_app  # Flask loads only for this command

    if not 1 <= args.port <= 65535:
        raise UsageInvalid(f"Port {args.port} tidak sah: pilih 1-65535.")
    _check_port(args.port)
    app = create_app(client.settings, port=args.port)
    server = make_server(HOST, args.port, app, threaded=True, request_handler=_RequestLog)
    url = f"http://{HOST}:{server.server_port}/"
    out(f"Aplikasi operator berjalan di {url}")
    out("Buka alamat itu di peramban laptop ini. Tekan Ctrl-C untuk berhenti.")
    if args.buka and not webbrowser.open(url):
        err("Peramban tidak dapat dibuka otomatis; buka alamat di atas secara manual.")
    try:
        server.serve_forever()
    finally:
        server.server_close()
        app.extensions["jemput_sync"].wait(timeout=30)
    return 0


def _check_port(port: int) -> None:
    """Refuse a port already taken with our own message (werkzeug would exit with its own)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError as exc:
            why = "sudah dipakai" if exc.errno == errno.EADDRINUSE else exc.strerror
            raise UsageInvalid(
                f"Port {port} di {HOST} tidak dapat dipakai ({why}); mungkin aplikasi sudah "
                "berjalan: buka alamatnya di peramban, atau pilih port lain dengan --port."
            ) from exc
