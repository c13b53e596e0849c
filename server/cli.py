"""``jemput-server``: Flask's ``run`` and ``db`` plus every domain's commands (see create_app)."""

from __future__ import annotations

from flask.cli import FlaskGroup

from server import create_app


def main() -> None:
    """Entry point of the ``jemput-server`` console script."""
    group = FlaskGroup(name="jemput-server", create_app=create_app,
                       help="Server Jemput: kantor pusat perekaman e-KTP jemput bola.")
    group.main(prog_name="jemput-server")
