"""How office users are let in: a session for the pages, a user token for the office API.

Every domain's office pages live on their own blueprint made by :func:`office_blueprint`
(under ``/office``, CSRF on every POST, refusals as an HTML page), and its office JSON API on
one made by :func:`office_api_blueprint` (under ``/api/v1/office``, user token only). This
module also serves the login and logout pages. A page session is a row of the database
(``server.accounts.sessions``); failed logins slow the next ones down
(``server.accounts.throttle``).
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_wtf.csrf import CSRFError, CSRFProtect
from sqlalchemy.exc import OperationalError
from werkzeug.wrappers import Response

from server.accounts import sessions, throttle, users
from server.accounts.actor import Actor
from server.accounts.device_auth import bearer_token
from server.core.config import OFFICE_SESSION_HOURS
from server.core.errors import Busy, JemputError, TooManyAttempts, Unauthorized
from server.core.extensions import db, lock_timed_out
from shared.protocol import API_PREFIX

log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])
#: The session cookie's key for the session token (the row in ``office_session``).
SESSION_TOKEN = "sid"
#: How a throttled login waits (a seam for the tests).
sleep = time.sleep
csrf = CSRFProtect()


def _check_csrf() -> None:
    """Every POST to the office carries the form's CSRF token (checked before the view)."""
    csrf.protect()


def _csrf_failed(error: CSRFError) -> tuple[str, int]:
    """A form without a valid CSRF token: nothing was done."""
    db.session.rollback()
    message = ("Formulir ditolak: token keamanan (CSRF) tidak ada atau tidak sah. "
               "Tidak ada yang diubah. Muat ulang halaman lalu coba lagi.")
    return render_template("error.html", status=400, title="Permintaan ditolak",
                           detail=message), 400


def _domain_error(error: JemputError) -> tuple[str, int]:
    """A refused action, as a page: 403 for a role, 409 for a stale case, 400/404 ..."""
    db.session.rollback()
    return render_template("error.html", status=error.status, title=error.title,
                           detail=error.detail, back=request.referrer), error.status


def _database_error(error: OperationalError) -> tuple[str, int]:
    """A lock wait past the lock timeout, as a page saying to try again (nothing changed)."""
    if not lock_timed_out(error):
        raise error  # a 500, as any other failure
    return _domain_error(Busy())


def init_csrf(app: Flask) -> None:
    """CSRF for the office's forms only: the office blueprints check it themselves, and
    ``/api/v1`` takes bearer tokens and never reads the session cookie."""
    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)
    # A form token lives as long as the session (cookie settings: server/core/config.py).
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", OFFICE_SESSION_HOURS * 3600)
    csrf.init_app(app)


def office_blueprint(name: str, import_name: str) -> Blueprint:
    """A blueprint of office pages: ``/office``, its own ``templates`` folder, CSRF, errors."""
    blueprint = Blueprint(name, import_name, url_prefix="/office", template_folder="templates")
    blueprint.before_request(_check_csrf)
    blueprint.register_error_handler(CSRFError, _csrf_failed)
    blueprint.register_error_handler(JemputError, _domain_error)
    blueprint.register_error_handler(OperationalError, _database_error)
    return blueprint


def office_api_blueprint(name: str, import_name: str) -> Blueprint:
    """A blueprint of the office's JSON API (``/api/v1/office``): see :func:`user_required`."""
    return Blueprint(name, import_name, url_prefix=f"{API_PREFIX}/office")


bp = office_blueprint("accounts", __name__)


def login_required(view: F) -> F:
    """Send a visitor without a session to the login page; the actor is then ``g.actor``."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        token = session.get(SESSION_TOKEN)
        actor = sessions.current(token) if isinstance(token, str) else None
        if actor is None:
            if token is not None:
                flash("Sesi berakhir. Silakan masuk lagi.", "info")
            session.pop(SESSION_TOKEN, None)
            return redirect(url_for("accounts.login", next=request.full_path))
        g.actor = actor
        return view(*args, **kwargs)

    return cast(F, wrapper)


def user_required(view: F) -> F:
    """Let only an office user's API token in (never the session cookie, so no CSRF token is
    needed); the user is then ``flask.g.actor``."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        g.actor = users.authenticate_token(bearer_token())
        return view(*args, **kwargs)

    return cast(F, wrapper)


def current_actor() -> Actor:
    """The office user of this request (a page's session or an API call's token)."""
    actor: Actor = g.actor
    return actor


def _safe_next(target: str | None) -> str:
    """Only a local path under /office: never an open redirect to another site."""
    if target and target.startswith("/office") and not urlsplit(target).netloc \
            and not target.startswith("//"):
        return target
    return url_for("review.dashboard")


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    """Show the login form; on POST check the password and start a fresh session."""
    if request.method == "GET":
        return render_template("accounts/login.html", next=request.args.get("next", ""),
                               cookie_warning=_cookie_will_be_dropped())
    username = request.form.get("username", "")[:200]
    try:
        # The same wait for a right and a wrong password: the delay tells nothing.
        sleep(throttle.before_attempt(username, request.remote_addr))
        actor = users.authenticate(username, request.form.get("password", ""))
    except (Unauthorized, TooManyAttempts) as error:
        if isinstance(error, Unauthorized):
            throttle.record_failure(username, request.remote_addr)
        # No name in the log (it may be a mistyped password); the address says where from.
        log.warning("Failed office login from %s", request.remote_addr)
        response = current_app.make_response((render_template(
            "accounts/login.html", error=error.detail, username=username,
            next=request.form.get("next", "")), error.status))
        response.headers.update(error.headers if isinstance(error, TooManyAttempts) else {})
        return response
    throttle.succeeded(actor.username)
    session.clear()  # no session fixation: a new session on every login
    session[SESSION_TOKEN] = sessions.start(actor.username)
    session.permanent = True
    log.info("Office login by a %s", actor.role)
    return redirect(_safe_next(request.form.get("next")))


def _cookie_will_be_dropped() -> bool:
    """A Secure session cookie over plain HTTP to a non-loopback host: the browser drops it."""
    loopback = request.host.split(":")[0] in ("127.0.0.1", "localhost", "[::1]")
    return bool(current_app.config.get("SESSION_COOKIE_SECURE")) and not request.is_secure \
        and not loopback


@bp.route("/logout", methods=["POST"])
def logout() -> Response:
    """End the session, on every server process (the row, not only the cookie)."""
    token = session.get(SESSION_TOKEN)
    if isinstance(token, str):
        sessions.end(token)
    session.clear()
    flash("Anda sudah keluar.", "info")
    return redirect(url_for("accounts.login"))


@bp.app_template_global()
def role_can(action: str) -> bool:
    """Whether the current user may ``resolve`` (reviewer+) or ``bulk`` (supervisor+)."""
    actor: Actor | None = g.get("actor")
    if actor is None:
        return False
    allowed = {"resolve": {"reviewer", "supervisor", "admin"}, "bulk": {"supervisor", "admin"}}
    return actor.role in allowed.get(action, set())
