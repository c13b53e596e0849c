"""Blank-card stock, forecast and the print queue as JSON for office users (office API)."""

from __future__ import annotations

from server.api.office import bp  # noqa: F401  (the /api/v1/office blueprint the routes join)
