"""Operator login with a PIN checked offline, the idle limit, and the first registration."""

from __future__ import annotations

import datetime as dt
import functools
import time
from collections.abc import Callable
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

from flask import Blueprint, flash, g, redirect, render_template, request, session, url_for

from field_client.errors import FieldClientError, LoginLocked, LoginRefused, NoOperators
from field_client.ui.access import client

bp = Blueprint("auth", __name__)
F = TypeVar("F", bound=Callable[..., Any])
#: A logged-in operator who does nothing for this long must give the PIN again.
IDLE_LIMIT = dt.timedelta(hours=2)
SESSION_OPERATOR = "operator"
SESSION_NAMA = "nama"
SESSION_SEEN = "seen"


def login_required(view: F) -> F:
    """Send a visitor without a fresh session to the login page; the operator is ``g.operator``."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        operator = session.get(SESSION_OPERATOR)
        seen = session.get(SESSION_SEEN)
        fresh = isinstance(seen, int | float) and time.time() - seen < IDLE_LIMIT.total_seconds()
        if not isinstance(operator, str) or not fresh or not _still_operator(operator):
            session.clear()
            if request.path.endswith(".json"):
                return {"error": "Sesi berakhir: masuk lagi dengan PIN."}, 401
            return redirect(url_for("auth.login", next=request.full_path))
        session[SESSION_SEEN] = int(time.time())
        g.operator = operator
        g.operator_nama = session.get(SESSION_NAMA) or operator
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
            session.clear()
            session[SESSION_OPERATOR] = who["username"]
            session[SESSION_NAMA] = who["nama"]
            session[SESSION_SEEN] = int(time.time())
            return redirect(_safe_next(request.args.get("next")))
    status = 200 if error is None else 401
    return (
        render_template(
            "login.html",
            operators=device.operators(),
            chosen=chosen,
            error=error,
            lock=device.lock_state(),
            profile=device.profile_summary(),
        ),
        status,
    )


@bp.post("/keluar")
def logout() -> Any:
    """End the operator's session (the next one needs a PIN)."""
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
    return any(op["username"] == username for op in client().operators())


def _safe_next(target: str | None) -> str:
    """Only a path on this app: never an address elsewhere."""
    if target and target.startswith("/") and not target.startswith("//"):
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc:
            return target
    return url_for("queue.queue")
