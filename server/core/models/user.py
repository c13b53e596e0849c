"""Office users who log in to the web UI."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Integer, String, true
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


class OfficeSession(Base):
    """A logged-in office browser. The cookie holds a random token; the row, named by the
    token's SHA-256, says whether the session still stands, so ending it (logout, a disabled
    user, a new password) holds on every server process at once."""

    __tablename__ = "office_session"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[dt.datetime | None]


class LoginFailure(Base):
    """Failed office logins counted per user name and per client address (``key`` is the
    SHA-256 of ``user:<name>`` or ``addr:<address>``), in the database so that every process
    and host counts the same."""

    __tablename__ = "login_failure"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    first_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
