"""The baseline of ``bench/uploads.py``: a bare WSGI app that stores one PUT body durably.

It does the least an upload must do (read the body, write it to disk, fsync, answer) and
nothing else: no database, no authentication, no hashing. Served by the same gunicorn as
Jemput, it is the "plain single PUT" the tus upload is compared against.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable
from typing import Any

_CHUNK = 1024 * 1024
_DIR = os.environ.get("PLAIN_PUT_DIR") or tempfile.gettempdir()


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """``PUT /anything`` with a body -> 204 once the bytes are on disk; anything else -> 200."""
    if environ["REQUEST_METHOD"] != "PUT":
        start_response("200 OK", [("Content-Length", "0")])
        return [b""]
    remaining = int(environ.get("CONTENT_LENGTH") or 0)
    stream = environ["wsgi.input"]
    fd, path = tempfile.mkstemp(dir=_DIR, prefix="put-")
    try:
        with os.fdopen(fd, "wb") as out:
            while remaining > 0:
                data = stream.read(min(_CHUNK, remaining))
                if not data:
                    break
                out.write(data)
                remaining -= len(data)
            out.flush()
            os.fsync(out.fileno())
    finally:
        os.unlink(path)
    start_response("204 No Content", [])
    return [b""]
