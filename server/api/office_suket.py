"""Suket issuance and lists as JSON for office users (routes on the office API blueprint)."""

from __future__ import annotations

from server.api.office import bp  # noqa: F401  (the /api/v1/office blueprint the routes join)
