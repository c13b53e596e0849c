"""Registry: the reference data every check and report reads.

Kemendagri region codes (the bundled Sekadau rows and imports of the national table), the SIAK
population registry and its import, and who must hold an e-KTP (wajib KTP).
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the registry commands."""
    from server.registry import cli

    for command in cli.COMMANDS:
        app.cli.add_command(command)
