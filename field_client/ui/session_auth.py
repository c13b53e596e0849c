"""Operator login with a PIN checked offline, the idle limit, and the first registration.

The PIN unwraps the device's data key (``capture.login``). The key stays in this process's
memory only (:class:`KeyStore`, never in the cookie or on disk), named by a random token in the
session; a restart of the app, Keluar, or two idle hours forget it.
"""

from __future__ import annotations

import datetime as dt
import functools
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from field_client.errors import FieldClientError, LoginLocked, LoginRefused, NoOperators
from field_client.ui.access import client

bp = Blueprint("auth", __name__)
F = TypeVar("F", bound=Callable[..., Any])
#: A logged-in operator who does nothing for this long must give the PIN again.
IDLE_LIMIT = dt.timedelta(hours=2)
SESSION_OPERATOR = "operator"
SESSION_NAMA = "nama"
SESSION_SEEN = "seen"
SESSION_KEY = "key"


class KeyStore:
    """The data keys of the logged-in sessions, in memory, by a random token."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._keys: dict[str, tuple[bytes, float]] = {}

    def put(self, data_key: bytes) -> str:
        """Keep ``data_key``; the token that names it."""
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._forget_idle()
            self._keys[token] = (data_key, time.monotonic())
        return token

    def get(self, token: object) -> bytes | None:
        """The key ``token`` names (and it counts as used now), or None."""
        with self._lock:
            self._forget_idle()
            found = self._keys.get(token) if isinstance(token, str) else None
            if found is None:
                return None
            self._keys[str(token)] = (found[0], time.monotonic())
            return found[0]

    def drop(self, token: object) -> None:
        """Forget the key ``token`` names."""
        with self._lock:
            if isinstance(token, str):
                self._keys.pop(token, None)

    def _forget_idle(self) -> None:
        limit = time.monotonic() - IDLE_LIMIT.total_seconds()
        for token in [t for t, (_, seen) in self._keys.items() if seen < limit]:
            del self._keys[token]


def keys() -> KeyStore:
    """This app's key store."""
    store: KeyStore = current_app.extensions["jemput_keys"]
    return store


def login_required(view: F) -> F:
    """Send a visitor without a fresh session to the login page; the operator is ``g.operator``."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        operator = session.get(SESSION_OPERATOR)
        seen = session.get(SESSION_SEEN)
        fresh = isinstance(seen, int | float) and time.time() - seen < IDLE_LIMIT.total_seconds()
        data_key = keys().get(session.get(SESSION_KEY)) if fresh else None
        if not isinstance(operator, str) or data_key is None or not _still_operator(operator):
            keys().drop(session.get(SESSION_KEY))
            session.clear()
            if request.path.endswith(".json"):
                return {"error": "Sesi berakhir: masuk lagi dengan PIN."}, 401
            return redirect(url_for("auth.login", next=request.full_path))
        session[SESSION_SEEN] = int(time.time())
        g.operator = operator
        g.operator_nama = session.get(SESSION_NAMA) or operator
        g.data_key = data_key
        return view(*args, **kwargs)

    return cast(F, wrapper)


@bp.route("/masuk", methods=["GET", "POST"])
def login() -> Any:
    """Pick the operator, give the PIN; five wrong PINs lock the app for a while."""
    device = client()
    if not device.status()["registered"]:
        return redirect(url_for("auth.register"))
    error = None
    chosen = request.form.get("operator", "")
    if request.method == "POST":
        try:
            who = device.login(chosen, request.form.get("pin", ""))
        except (LoginRefused, LoginLocked, NoOperators) as exc:
            error = exc.message
        else:
            keys().drop(session.get(SESSION_KEY))
            session.clear()
            session[SESSION_OPERATOR] = who.username
            session[SESSION_NAMA] = who.nama
            session[SESSION_SEEN] = int(time.time())
            session[SESSION_KEY] = keys().put(who.data_key)
            return redirect(_safe_next(request.args.get("next")))
    status = 200 if error is None else 401
    return (
        render_template(
            "login.html",
            operators=device.operators(),
            chosen=chosen,
            error=error,
            lock=device.lock_state(chosen) if chosen else {"locked_until": None},
            profile=device.profile_summary(),
        ),
        status,
    )


@bp.post("/keluar")
def logout() -> Any:
    """End the operator's session (the next one needs a PIN); the data key is forgotten."""
    keys().drop(session.get(SESSION_KEY))
    session.clear()
    flash("Anda sudah keluar.", "success")
    return redirect(url_for("auth.login"))


@bp.route("/daftar", methods=["GET", "POST"])
def register() -> Any:
    """The laptop's first registration with the office's one-time code (no operator yet)."""
    device = client()
    if device.status()["registered"]:
        return redirect(url_for("auth.login"))
    error = None
    if request.method == "POST":
        try:
            done = device.register(request.form.get("server_url", ""),
                                   request.form.get("code", ""))
        except FieldClientError as exc:
            error = exc.message
        else:
            flash("Laptop terdaftar. Sidik jari kunci kantor: "
                  f"{done.office_key_fingerprint} (cocokkan dengan yang dibacakan kantor). "
                  "Masuk dengan operator dan PIN Anda.", "success")
            return redirect(url_for("auth.login"))
    return (
        render_template("register.html", error=error, form=request.form),
        200 if error is None else 400,
    )


def _still_operator(username: str) -> bool:
    """Whether the office still lists this operator (disabled ones leave with the next sync)."""
    return username in client().operators()


def _safe_next(target: str | None) -> str:
    """Only a path on this app: never an address elsewhere."""
    if target and target.startswith("/") and not target.startswith("//"):
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc:
            return target
    return url_for("queue.queue")
