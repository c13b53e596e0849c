"""Office users who log in to the web UI."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import String, true
from sqlalchemy.orm import Mapped, mapped_column

from server.core.models.base import Base
from server.core.timeutil import utcnow

ROLES = ("admin", "supervisor", "reviewer", "viewer")


class User(Base):
    """An office account; the password is stored only as a werkzeug hash."""

    __tablename__ = "user"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    # SHA-256 of the user's API token for scripts (``jemput-server user-token``), if any.
    api_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    active: Mapped[bool] = mapped_column(default=True, server_default=true())
