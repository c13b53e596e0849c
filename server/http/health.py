"""``GET /`` (what this server is), ``GET /healthz`` (liveness: is it up, does its database
answer) and ``GET /readyz`` (readiness: database, blob store and free disk)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, request, url_for
from werkzeug.wrappers import Response

from server.core import health
from shared.protocol import API_PREFIX, PROTOCOL_VERSION

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> dict[str, Any]:
    """Liveness for load balancers and the field client; no authentication."""
    return health.check()


@bp.get("/readyz")
def readyz() -> dict[str, Any]:
    """Readiness for load balancers and monitoring: 503 naming the failing checks."""
    return health.ready()


@bp.get("/")
def index() -> dict[str, Any] | Response:
    """Where to go from the server's address: a browser to the office UI, a script to JSON."""
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    if best == "text/html" and request.accept_mimetypes["text/html"] > \
            request.accept_mimetypes["application/json"]:
        return redirect(url_for("review.dashboard"))
    return {
        "name": "Jemput",
        "description": "Server kantor Disdukcapil untuk perekaman e-KTP jemput bola.",
        "protocol_version": PROTOCOL_VERSION,
        "api": API_PREFIX,
        "openapi": f"{API_PREFIX}/openapi.json",
        "health": "/healthz",
    }
