"""``jemput-server``: Flask's ``run`` and ``db`` plus every domain's commands (see create_app)."""

from __future__ import annotations

import importlib.util
import sys

#: What the server needs beyond the field client's install (``pip install 'jemput[server]'``).
SERVER_MODULES = ("flask_sqlalchemy", "flask_migrate", "sqlalchemy", "apispec", "psycopg",
                  "fpdf", "segno")


def main() -> None:
    """Entry point of the ``jemput-server`` console script."""
    missing = [name for name in SERVER_MODULES if importlib.util.find_spec(name) is None]
    if missing:
        sys.exit("Server Jemput belum terpasang: pasang dengan pip install 'jemput[server]' "
                 f"(belum ada: {', '.join(missing)}).")
    from flask.cli import FlaskGroup

    from server import create_app

    group = FlaskGroup(name="jemput-server", create_app=create_app,
                       help="Server Jemput: kantor pusat perekaman e-KTP jemput bola.")
    group.main(prog_name="jemput-server")
