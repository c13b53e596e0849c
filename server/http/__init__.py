"""Web plumbing every domain shares: errors as problem+json, request bodies, JSON and CSV
presenters, the templates' labels and filters, the OpenAPI document, the health and readiness
checks, request ids, the pages' security headers and the trusted reverse proxies."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Request ids, error handlers, security headers, template globals and filters, ``/``,
    ``/healthz``, ``/readyz`` and the OpenAPI route."""
    from server.http import headers, health, openapi, problems, request_ids, templating

    request_ids.init_app(app)
    problems.init_app(app)
    headers.init_app(app)
    templating.init_app(app)
    app.register_blueprint(health.bp)
    app.register_blueprint(openapi.bp)
