"""Device authentication for API views (``Authorization: Bearer <token>``)."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any, TypeVar, cast

from flask import g, request

from server.accounts import devices
from server.core.errors import Unauthorized

F = TypeVar("F", bound=Callable[..., Any])
#: What a device whose token expired (unused too long) may still do: push its queued records and
#: upload their files, so nothing captured is stranded. Reading (profile, feed, target lists)
#: needs a token in use.
WRITE_ONLY_ENDPOINTS = frozenset({"sync.push", "uploads.create", "uploads.upload",
                                  "uploads.append", "uploads.terminate"})
# URL-safe base64 of 32 bytes is 43 characters; allow some room, refuse anything odd early.
TOKEN = re.compile(r"^[A-Za-z0-9_\-]{20,128}$")


def bearer_token() -> str:
    """The bearer token of the current request; raise :class:`Unauthorized` when absent or odd."""
    header = request.headers.get("Authorization", "")
    if not header:
        raise Unauthorized("Permintaan ini memerlukan token perangkat (Authorization: Bearer).")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not TOKEN.match(token):
        raise Unauthorized("Header Authorization harus berbentuk 'Bearer <token>'.",
                           error="invalid_request")
    return token


def device_required(view: F) -> F:
    """Let only a registered, unrevoked device in; it is then ``flask.g.device``."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        g.device = devices.authenticate_device(
            bearer_token(), may_be_expired=request.endpoint in WRITE_ONLY_ENDPOINTS)
        return view(*args, **kwargs)

    return cast(F, wrapper)
