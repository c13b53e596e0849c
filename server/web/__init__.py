"""The office web UI: server-rendered pages under ``/office`` (login, roles, CSRF)."""

from __future__ import annotations

import datetime as dt

from flask import Flask

from server.web import auth, labels, views  # noqa: F401  (views: the pages' routes on auth.bp)

SESSION_HOURS = 8


def init_app(app: Flask) -> None:
    """CSRF for the office's forms only (the JSON API takes bearer tokens), the blueprint."""
    # Forms are checked by the office blueprint itself; /api/v1 never reads the session cookie.
    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", SESSION_HOURS * 3600)
    app.config.setdefault("SESSION_COOKIE_HTTPONLY", True)
    app.config.setdefault("SESSION_COOKIE_SAMESITE", "Lax")
    app.config.setdefault("SESSION_COOKIE_NAME", "jemput_office")
    app.config.setdefault("PERMANENT_SESSION_LIFETIME", dt.timedelta(hours=SESSION_HOURS))
    app.jinja_env.globals.update(labels.GLOBALS)
    auth.csrf.init_app(app)
    app.register_blueprint(auth.bp)
