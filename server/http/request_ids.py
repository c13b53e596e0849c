"""Every request gets an id: the ``X-Request-Id`` a client or proxy sent (8-64 characters of
letters, digits, ``.``, ``_`` and ``-``), else a new random one. It is answered in the
``X-Request-Id`` header and named by every log record of the request (``server.core.logs``),
so an operator's report, the proxy's log and the server's log meet on it."""

from __future__ import annotations

import re
import secrets

from flask import Flask, g, request
from werkzeug.wrappers import Response

from server.core.logs import REQUEST_ID_ATTR

HEADER = "X-Request-Id"
#: What a sent id may be; anything else (too short, too long, spaces, quotes) is replaced.
SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def request_id() -> str:
    """The current request's id (made on first use)."""
    current = g.get(REQUEST_ID_ATTR)
    if not current:
        sent = request.headers.get(HEADER, "")
        current = sent if SAFE_ID.fullmatch(sent) else secrets.token_hex(16)
        setattr(g, REQUEST_ID_ATTR, current)
    return str(current)


def _assign() -> None:
    request_id()


def _answer_with_id(response: Response) -> Response:
    response.headers[HEADER] = request_id()
    return response


def init_app(app: Flask) -> None:
    """Give each request its id before anything else runs, and answer it on every response."""
    app.before_request_funcs.setdefault(None, []).insert(0, _assign)
    app.after_request(_answer_with_id)
