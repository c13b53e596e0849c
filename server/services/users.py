"""Office user accounts."""

from __future__ import annotations

import re
import secrets

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from werkzeug.security import generate_password_hash

from server.errors import Conflict, InvalidInput
from server.extensions import db
from server.models import ROLES, User

ADMIN_USERNAME = "admin"
USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")


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
