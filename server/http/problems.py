"""Errors as RFC 9457 problem+json: domain errors, werkzeug's HTTP errors and the rest as 500."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, json, render_template, request
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

from server.core.errors import Busy, JemputError
from server.core.extensions import db, lock_timed_out
from shared.problems import HTTP_PROBLEMS
from shared.protocol import API_PREFIX, PROBLEM_MEDIA_TYPE

log = logging.getLogger(__name__)


def problem(
    status: int,
    code: str,
    title: str,
    detail: str,
    errors: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """An RFC 9457 problem+json response."""
    body: dict[str, Any] = {
        "type": f"urn:jemput:problem:{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
    }
    if errors is not None:
        body["errors"] = errors
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM_MEDIA_TYPE)
    response.headers.update(headers or {})
    return response


def _wants_page() -> bool:
    """A person's browser outside the API: it gets an HTML page, a script keeps problem+json."""
    if request.path.startswith(API_PREFIX):
        return False
    accept = request.accept_mimetypes
    return accept["text/html"] > max(accept["application/json"], accept[PROBLEM_MEDIA_TYPE])


def _answer(status: int, code: str, title: str, detail: str,
            errors: dict[str, Any] | None = None,
            headers: dict[str, str] | None = None) -> Response:
    if _wants_page():
        page = render_template("error.html", status=status, title=title, detail=detail)
        response = Response(page, status=status, mimetype="text/html")
        response.headers.update(headers or {})
        return response
    return problem(status, code, title, detail, errors, headers)


def _handle_jemput_error(error: JemputError) -> Response:
    return _answer(error.status, error.code, error.title, error.detail, error.errors,
                   error.headers)


def _handle_http_exception(error: HTTPException) -> Response:
    status = error.code or 500
    known = HTTP_PROBLEMS.get(status)
    code, title = (known.code, known.title) if known else (f"http_{status}", error.name)
    # werkzeug's own English sentence gives way to the Indonesian title; a chosen one stays.
    stock = error.description in (None, "", type(error).description)
    detail = title if stock else str(error.description)
    # Keep only the headers that mean something to a client (Allow on 405).
    headers = {k: v for k, v in error.get_headers() if k.lower() == "allow"}
    return _answer(status, code, title, detail, headers=headers)


def _handle_unexpected(error: Exception) -> Response:
    db.session.rollback()
    # Type and traceback only: request bodies carry residents' data and are never logged.
    log.exception("Unhandled %s", type(error).__name__)
    return _answer(500, JemputError.code, JemputError.title, "Kesalahan internal; coba lagi nanti.")


def _handle_database_error(error: OperationalError) -> Response:
    """A lock wait past the lock timeout is 503 ``busy`` (nothing changed); any other
    database failure is a 500."""
    if not lock_timed_out(error):
        return _handle_unexpected(error)
    db.session.rollback()
    log.warning("Lock timeout: answered 503 busy")
    return _handle_jemput_error(Busy())


def init_app(app: Flask) -> None:
    """Register the handlers: domain errors, HTTP errors, lock timeouts, then everything else
    as a 500."""
    app.register_error_handler(JemputError, _handle_jemput_error)
    app.register_error_handler(OperationalError, _handle_database_error)
    app.register_error_handler(HTTPException, _handle_http_exception)
    app.register_error_handler(Exception, _handle_unexpected)
