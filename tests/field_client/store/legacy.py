"""Outboxes as older versions of jemput-field left them, to test the migrations and the upgrade
from them: built by the old migrations themselves, not by undoing the current schema."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from field_client.store.migrations import MIGRATIONS


def old_outbox(path: Path, version: int) -> sqlite3.Connection:
    """A new outbox file at ``path`` with the schema ``version`` had (its migrations only);
    the caller fills it and closes the connection."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.row_factory = sqlite3.Row
    for statements in MIGRATIONS[:version]:
        for statement in statements:
            conn.execute(statement)
    conn.execute(f"PRAGMA user_version = {version}")
    return conn
