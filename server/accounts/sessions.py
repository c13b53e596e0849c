"""Office sessions kept in the database, so that ending one holds on every server process.

The signed session cookie carries only a random token; the ``office_session`` row, named by the
token's SHA-256, is the session. A session ends at logout, when its user is disabled or gets a
new password (every session of that user), after ``JEMPUT_OFFICE_IDLE_MINUTES`` without a
request, and ``OFFICE_SESSION_HOURS`` after the login at the latest. An ended session is never
revived: the browser is sent to the login page.
"""

from __future__ import annotations

import datetime as dt

from flask import current_app
from sqlalchemy import select, update

from server.accounts.actor import Actor
from server.core import tokens
from server.core.config import OFFICE_SESSION_HOURS
from server.core.extensions import db
from server.core.models import OfficeSession, User
from server.core.timeutil import utcnow

#: How often a session's last request is written (a page view is not a write each time).
TOUCH_EVERY = dt.timedelta(seconds=60)
DEFAULT_IDLE_MINUTES = 30


def start(username: str) -> str:
    """A new session for the active user ``username``; returns the token for the cookie."""
    user_id = db.session.execute(
        select(User.id).where(User.username == username)).scalar_one()
    token = tokens.new_token()
    now = utcnow()
    db.session.add(OfficeSession(id=tokens.hash_token(token), user_id=user_id, created_at=now,
                                 last_seen_at=now))
    db.session.commit()
    return token


def current(token: str) -> Actor | None:
    """The user of the standing session ``token`` (its last request noted), or None when the
    session ended, idled out, is too old, or its user is gone or disabled."""
    now = utcnow()
    row = db.session.execute(
        select(OfficeSession, User)
        .join(User, User.id == OfficeSession.user_id)
        .where(OfficeSession.id == tokens.hash_token(token))
    ).one_or_none()
    if row is None:
        db.session.commit()
        return None
    office_session, user = row
    if office_session.ended_at is not None:
        db.session.commit()
        return None
    if not user.active or now - office_session.last_seen_at > idle_limit() \
            or now - office_session.created_at > dt.timedelta(hours=OFFICE_SESSION_HOURS):
        office_session.ended_at = now
        db.session.commit()
        return None
    if now - office_session.last_seen_at >= TOUCH_EVERY:
        office_session.last_seen_at = now
    db.session.commit()
    return Actor(user.username, user.role)


def end(token: str) -> None:
    """End the session ``token`` (logout); nothing when it is unknown or ended already."""
    db.session.execute(
        update(OfficeSession)
        .where(OfficeSession.id == tokens.hash_token(token), OfficeSession.ended_at.is_(None))
        .values(ended_at=utcnow()))
    db.session.commit()


def end_all(user_id: int) -> int:
    """End every standing session of a user, in the caller's transaction; how many ended."""
    result = db.session.execute(
        update(OfficeSession)
        .where(OfficeSession.user_id == user_id, OfficeSession.ended_at.is_(None))
        .values(ended_at=utcnow()))
    return int(getattr(result, "rowcount", 0) or 0)


def idle_limit() -> dt.timedelta:
    """How long a session may go without a request."""
    minutes = current_app.config.get("JEMPUT_OFFICE_IDLE_MINUTES") or DEFAULT_IDLE_MINUTES
    return dt.timedelta(minutes=int(minutes))
