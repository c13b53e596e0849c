"""Cards: the blank-card (blanko) ledger, printing, the Surat Keterangan (Suket), its PDF and
the public ``/verify`` page of its QR code.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the cards blueprints and commands."""
    from server.cards import api, cli, schemas, suket_api, suket_views, verify, views
    from server.http import openapi

    app.register_blueprint(api.bp)
    app.register_blueprint(suket_api.bp)
    app.register_blueprint(verify.bp)
    app.register_blueprint(views.bp)
    app.register_blueprint(suket_views.bp)
    openapi.describe(app, schemas.OPERATIONS)
    for command in cli.COMMANDS:
        app.cli.add_command(command)
