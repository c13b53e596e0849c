"""Office user accounts."""

from __future__ import annotations

import re
import secrets

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash, generate_password_hash

from server.accounts import sessions
from server.accounts.actor import Actor
from server.core import tokens
from server.core.errors import Conflict, InvalidInput, NotFound, Unauthorized
from server.core.extensions import db
from server.core.models import ROLES, User

ADMIN_USERNAME = "admin"
USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
# Checked against when the user is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = generate_password_hash("jemput-dummy-password")


def create_user(username: str, role: str) -> str:
    """Create a user with a generated password; return the password in plain text (only once)."""
    username = username.strip().lower()
    if not USERNAME.match(username):
        raise InvalidInput(
            "Nama pengguna harus 2-64 karakter: huruf kecil, angka, titik, garis bawah, strip."
        )
    if role not in ROLES:
        raise InvalidInput(f"Peran '{role}' tidak dikenal. Pilih salah satu: {', '.join(ROLES)}.")
    password = secrets.token_urlsafe(12)
    db.session.add(
        User(username=username, role=role, password_hash=generate_password_hash(password))
    )
    try:
        db.session.commit()
    except IntegrityError as exc:
        db.session.rollback()
        raise Conflict(f"Pengguna '{username}' sudah ada.") from exc
    return password


def reset_password(username: str) -> str:
    """Give an existing user a new generated password and end every session of theirs;
    return the password in plain text (only once)."""
    user = _user(username)
    password = secrets.token_urlsafe(12)
    user.password_hash = generate_password_hash(password)
    sessions.end_all(user.id)
    db.session.commit()
    return password


def set_active(username: str, active: bool) -> int:
    """Enable or disable a user; disabling ends every session of theirs and their API token
    stops working. Returns how many sessions ended."""
    user = _user(username)
    user.active = active
    ended = 0 if active else sessions.end_all(user.id)
    db.session.commit()
    return ended


def _user(username: str) -> User:
    user = db.session.execute(
        select(User).where(User.username == username.strip().lower())
    ).scalar_one_or_none()
    if user is None:
        db.session.rollback()
        raise NotFound(f"Pengguna '{username.strip().lower()}' tidak ada.")
    return user


def ensure_admin() -> str | None:
    """Create the first ``admin`` and return its password, or None when it already exists."""
    exists = db.session.execute(
        select(User.id).where(User.username == ADMIN_USERNAME)
    ).scalar_one_or_none()
    if exists is not None:
        return None
    try:
        return create_user(ADMIN_USERNAME, "admin")
    except Conflict:  # created meanwhile by a concurrent `init`
        return None


def authenticate(username: str, password: str) -> Actor:
    """The active user with this name and password; :class:`Unauthorized` otherwise."""
    user = db.session.execute(
        select(User).where(User.username == username.strip().lower())
    ).scalar_one_or_none()
    db.session.commit()
    if user is None:
        check_password_hash(_DUMMY_HASH, password)
        raise Unauthorized("Nama pengguna atau kata sandi salah.")
    if not check_password_hash(user.password_hash, password) or not user.active:
        raise Unauthorized("Nama pengguna atau kata sandi salah.")
    return Actor(user.username, user.role)


def issue_api_token(username: str) -> str:
    """A new API token for ``username`` (replacing any older one); returned in plain text once."""
    user = db.session.execute(
        select(User).where(User.username == username.strip().lower())
    ).scalar_one_or_none()
    if user is None:
        db.session.rollback()
        raise NotFound(f"Pengguna '{username}' tidak ada.")
    token = tokens.new_token()
    user.api_token_hash = tokens.hash_token(token)
    db.session.commit()
    return token


def authenticate_token(token: str) -> Actor:
    """The active user holding API token ``token``; :class:`Unauthorized` otherwise."""
    user = db.session.execute(
        select(User).where(User.api_token_hash == tokens.hash_token(token))
    ).scalar_one_or_none()
    db.session.commit()
    if user is None or not user.active:
        raise Unauthorized("Token pengguna tidak sah atau sudah diganti.", error="invalid_token")
    return Actor(user.username, user.role)
