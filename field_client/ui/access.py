"""Per-request plumbing: the device's FieldClient, the Host check, CSRF, headers, error pages."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, current_app, g, render_template, request
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import RequestEntityTooLarge

from field_client.client import FieldClient
from field_client.errors import DraftNotFound, FieldClientError

log = logging.getLogger(__name__)
csrf = CSRFProtect()
#: Names a browser on this laptop uses for the app; anything else is a DNS-rebinding attempt.
LOCAL_HOSTS = ("127.0.0.1", "localhost")
_CSP = (
    "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
    "style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'"
)


def client() -> FieldClient:
    """The device's :class:`FieldClient` for this request (opened once, closed at teardown)."""
    if "field_client" not in g:
        g.field_client = FieldClient(
            settings=current_app.config["JEMPUT_SETTINGS"],
            transport_factory=current_app.config["JEMPUT_TRANSPORT_FACTORY"],
        )
    found: FieldClient = g.field_client
    return found


def init_access(app: Flask) -> None:
    """Install the checks and handlers every page shares."""
    csrf.init_app(app)
    app.before_request(_check_host)
    app.after_request(_headers)
    app.teardown_appcontext(_close_client)
    app.register_error_handler(CSRFError, _csrf_failed)
    app.register_error_handler(RequestEntityTooLarge, _too_large)
    app.register_error_handler(FieldClientError, _client_error)


def _check_host() -> Any:
    """Only this laptop's own names: a page elsewhere cannot reach the app by DNS rebinding."""
    host = (request.host or "").rsplit(":", 1)[0].strip("[]").lower()
    if host not in LOCAL_HOSTS:
        log.warning("request with foreign Host header refused")
        return _page("Alamat tidak dikenal: buka aplikasi lewat http://127.0.0.1.", 400)
    return None


def _headers(response: Any) -> Any:
    response.headers.setdefault("Content-Security-Policy", _CSP)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    # Residents' data: the browser keeps no copy of any page on disk.
    response.headers["Cache-Control"] = "no-store"
    return response


def _close_client(_: BaseException | None) -> None:
    opened = g.pop("field_client", None)
    if opened is not None:
        opened.close()


def _csrf_failed(_: CSRFError) -> Any:
    return _page(
        "Formulir ini kedaluwarsa atau tidak berasal dari aplikasi ini (token keamanan tidak "
        "cocok). Tidak ada yang disimpan. Muat ulang halaman lalu ulangi.",
        400,
    )


def _too_large(_: RequestEntityTooLarge) -> Any:
    limit = current_app.config["MAX_CONTENT_LENGTH"] // (1024 * 1024)
    return _page(
        f"Kiriman formulir terlalu besar (lebih dari {limit} MB). Tidak ada yang disimpan; "
        "periksa berkas yang dipilih (foto kamera biasa cukup beberapa MB).",
        413,
    )


def _client_error(exc: FieldClientError) -> Any:
    return _page(exc.message, 404 if isinstance(exc, DraftNotFound) else 409)


def _page(message: str, status: int) -> Any:
    if request.accept_mimetypes.best == "application/json" or request.path.endswith(".json"):
        return {"error": message}, status
    return render_template("error.html", message=message), status
