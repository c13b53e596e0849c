"""Demo: the main job in one command, on a synthetic Sekadau. The only server package that
imports the field client (it drives a real one).
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the demo commands."""
    from server.demo import cli

    for command in cli.COMMANDS:
        app.cli.add_command(command)
