"""HTTP API blueprints: thin views over the service layer."""

from __future__ import annotations

from flask import Flask

from server.api import devices, health, office, openapi, sync, uploads


def init_app(app: Flask) -> None:
    """Register every blueprint."""
    for blueprint in (health.bp, devices.bp, sync.bp, uploads.bp, office.bp, openapi.bp):
        app.register_blueprint(blueprint)
