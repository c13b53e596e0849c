"""``GET /healthz``: is the server up and does its database answer."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from server.services import health

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> dict[str, Any]:
    """Liveness for load balancers and the field client; no authentication."""
    return health.check()
