"""Liveness of the server's dependencies."""

from __future__ import annotations

import logging

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from server.core.errors import ServiceUnavailable
from server.core.extensions import db

log = logging.getLogger(__name__)


def check() -> dict[str, str]:
    """``{"status": "ok", "database": "ok"}``, or raise when the database does not answer."""
    try:
        db.session.execute(text("SELECT 1"))
        db.session.commit()
    except SQLAlchemyError as exc:
        db.session.rollback()
        log.warning("Health check: database unavailable (%s)", type(exc).__name__)
        raise ServiceUnavailable("Basis data tidak menjawab.") from exc
    return {"status": "ok", "database": "ok"}
