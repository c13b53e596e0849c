"""Logging, configured once per process, and the context every record names.

A record names the request it was logged for (``req=``, the id ``server.http.request_ids``
gives every request and returns in ``X-Request-Id``) or the job a worker runs (``job=``, set
with :func:`log_context`). :class:`ContextFilter` puts them on each record as ``request_id``,
``job`` and ``context`` (all ``-`` outside any), and :data:`FORMAT` prints ``context``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from flask import Flask, g, has_request_context

FORMAT = "%(asctime)s %(levelname)s %(name)s [%(context)s]: %(message)s"
#: Where ``server.http.request_ids`` keeps the current request's id on ``flask.g``.
REQUEST_ID_ATTR = "request_id"
#: How each field is named in ``%(context)s``.
LABELS = {"request_id": "req", "job": "job", "worker": "worker"}

_context: ContextVar[tuple[tuple[str, str], ...]] = ContextVar("jemput_log_context", default=())


@contextmanager
def log_context(**fields: str) -> Iterator[None]:
    """Name ``fields`` (``job="..."``, ``request_id="..."``) on every record logged inside."""
    token = _context.set(tuple({**dict(_context.get()), **fields}.items()))
    try:
        yield
    finally:
        _context.reset(token)


def current_context() -> dict[str, str]:
    """The fields records get right now: the :func:`log_context` ones, and the request's id."""
    fields = dict(_context.get())
    if "request_id" not in fields and has_request_context():
        request_id = g.get(REQUEST_ID_ATTR)
        if request_id:
            fields["request_id"] = request_id
    return fields


class ContextFilter(logging.Filter):
    """Adds ``request_id``, ``job`` and ``context`` to every record (a handler's filter: name
    it in your own logging configuration, ``"()": "server.core.logs.ContextFilter"``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        fields = current_context()
        record.request_id = fields.get("request_id", "-")
        record.job = fields.get("job", "-")
        record.context = " ".join(f"{LABELS.get(key, key)}={value}"
                                  for key, value in fields.items()) or "-"
        return True


def init_app(app: Flask) -> None:
    """Send logs to stderr, each naming its request or job, unless the host (gunicorn's
    ``--log-config``, pytest) configured logging already."""
    # boto3's own INFO lines ("Found credentials in environment variables") would mix into
    # every command's output; its warnings and errors still come through.
    for name in ("boto3", "botocore", "s3transfer"):
        logging.getLogger(name).setLevel(logging.WARNING)
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=app.config["JEMPUT_LOG_LEVEL"], format=FORMAT)
        for handler in root.handlers:
            handler.addFilter(ContextFilter())
