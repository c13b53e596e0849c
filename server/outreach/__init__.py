"""Outreach: which desa to visit next, the visits, and the target list a team's laptop gets."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the outreach blueprints and commands."""
    from server.http import openapi
    from server.outreach import api, cli, device_api, schemas, views

    app.register_blueprint(device_api.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(views.bp)
    openapi.describe(app, schemas.OPERATIONS)
    for command in cli.COMMANDS:
        app.cli.add_command(command)
