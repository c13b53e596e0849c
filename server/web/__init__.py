"""The office web UI: server-rendered pages under ``/office`` (login, roles, CSRF)."""

from __future__ import annotations

from flask import Flask

from server.accounts import office_auth as auth
from server.core.config import OFFICE_SESSION_HOURS
from server.review import views  # noqa: F401
from server.web import (  # noqa: F401  (the *views modules: the pages' routes on auth.bp)
    blanko_views,
    coverage_views,
    labels,
    outreach_views,
    suket_views,
)


def init_app(app: Flask) -> None:
    """CSRF for the office's forms only (the JSON API takes bearer tokens), the blueprint."""
    # Forms are checked by the office blueprint itself; /api/v1 never reads the session cookie.
    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)
    # A form token lives as long as the session (cookie settings: server/core/config.py).
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", OFFICE_SESSION_HOURS * 3600)
    app.jinja_env.globals.update(labels.GLOBALS)
    auth.csrf.init_app(app)
    app.register_blueprint(auth.bp)
