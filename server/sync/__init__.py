"""Sync: what the laptops send. Push (exactly once), the pull feed, the record schema,
completeness, state transitions, and the tus uploads of biometric files (``sync/uploads``).
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the sync blueprints and commands."""
    from server.sync import api, cli
    from server.sync.uploads import api as uploads_api

    app.register_blueprint(api.bp)
    app.register_blueprint(uploads_api.bp)
    for command in cli.COMMANDS:
        app.cli.add_command(command)
