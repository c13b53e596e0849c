"""Accounts: who may do what. Office users, field devices and their operators, and the
``Actor`` every decision names; office login (session and user token), device tokens and the
device profile a laptop logs its operators in with.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the accounts blueprints and commands."""
    from server.accounts import api, cli, office_auth, profile_api

    office_auth.init_csrf(app)

    app.register_blueprint(api.bp)
    app.register_blueprint(profile_api.bp)
    app.register_blueprint(office_auth.bp)
    for command in cli.COMMANDS:
        app.cli.add_command(command)
