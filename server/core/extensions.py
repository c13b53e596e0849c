"""Flask extensions, created unbound and attached to an app in ``init_app``."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from flask import Flask
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import Engine, event

from server.core.models import Base

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
SQLITE_CACHE_KIB = 64 * 1024
#: PostgreSQL's SQLSTATE when lock_timeout ran out.
LOCK_NOT_AVAILABLE = "55P03"

# Services hand plain values around after commit; expiring them would only add queries.
db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})
# Batch mode lets the same migrations alter tables on SQLite.
migrate = Migrate(directory=str(MIGRATIONS_DIR), render_as_batch=True, compare_type=True)


def init_app(app: Flask) -> None:
    """Bind the database and migrations to ``app``."""
    db.init_app(app)
    migrate.init_app(app, db)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            event.listen(db.engine, "connect", functools.partial(
                _sqlite_pragmas, busy_ms=sqlite_busy_ms(app)))


def sqlite_busy_ms(app: Flask) -> int:
    """SQLite's busy timeout: the lock timeout (``JEMPUT_LOCK_TIMEOUT_SECONDS``) in ms."""
    return int(float(app.config.get("JEMPUT_LOCK_TIMEOUT_SECONDS") or 10) * 1000)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any, busy_ms: int) -> None:
    """WAL for concurrent readers, FULL sync so an acknowledged push survives a power cut."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
    # Attachment hashes are random keys: a push touches pages all over their index, and
    # with SQLite's default 2 MiB cache those pages are evicted and re-read mid-transaction.
    cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
    cursor.close()


def lock_timed_out(error: BaseException) -> bool:
    """Whether a database error is a lock wait that ran past the lock timeout (PostgreSQL's
    lock_not_available, SQLite's "database is locked" after its busy timeout)."""
    orig = getattr(error, "orig", None)
    if getattr(orig, "sqlstate", None) == LOCK_NOT_AVAILABLE:
        return True
    return "database is locked" in str(orig or "")


def dispose_engines(app: Flask) -> None:
    """Close pooled connections (tests, and before copying a SQLite file)."""
    with app.app_context():
        engine: Engine = db.engine
        engine.dispose()
