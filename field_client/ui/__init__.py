"""``jemput-field ui``: the operator's web app, served on the laptop itself (127.0.0.1 only).

The same library the CLI uses does the work (:class:`~field_client.client.FieldClient`); this
package is only pages over it: operator login with a PIN checked offline, the enrollment form
with drafts and a review screen, the queue with a sync button, and the visit's target list.
"""

from __future__ import annotations

import io
import secrets
from pathlib import Path
from typing import IO

from flask import Flask, Request

from field_client.client import TransportFactory
from field_client.config import Settings, load_settings
from field_client.errors import StorageError
from field_client.store import records
from field_client.ui import enroll_views, pages, queue_views, session_auth, sync_views
from field_client.ui.access import init_access
from field_client.ui.sync_runner import SyncRunner
from shared import labels

SECRET_NAME = "ui_secret_key"
#: Enough for a form with all fourteen biometric files at their largest allowed size.
MAX_FORM_BYTES = 160 * 1024 * 1024


class InMemoryRequest(Request):
    """A request whose uploaded files stay in memory: werkzeug would spool a large one to a
    temporary file on disk, and a biometric file must never be written in clear."""

    def _get_file_stream(self, total_content_length: int | None, content_type: str | None,
                         filename: str | None = None,
                         content_length: int | None = None) -> IO[bytes]:
        return io.BytesIO()


def create_app(
    settings: Settings | None = None,
    *,
    home: Path | str | None = None,
    transport_factory: TransportFactory | None = None,
    port: int | None = None,
) -> Flask:
    """The web app over one device home; ``port`` is the one it listens on (Host check)."""
    settings = settings or load_settings(home)
    app = Flask(__name__)
    app.request_class = InMemoryRequest
    app.config.update(
        SECRET_KEY=_secret_key(settings.home),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_NAME="jemput_field",
        MAX_CONTENT_LENGTH=MAX_FORM_BYTES,
        # A form may stay open all morning in a village hall; the session's idle limit and the
        # per-session token are the guard, not a token clock that would throw typed data away.
        WTF_CSRF_TIME_LIMIT=None,
        JEMPUT_SETTINGS=settings,
        JEMPUT_TRANSPORT_FACTORY=transport_factory,
        JEMPUT_PORT=port,
    )
    app.extensions["jemput_sync"] = SyncRunner(settings, transport_factory)
    app.extensions["jemput_keys"] = session_auth.KeyStore()
    app.add_template_filter(records.local_time, "waktu")
    app.add_template_filter(labels.role_label, "role_label")
    app.jinja_env.globals.update(STATE_LABELS=labels.STATE_LABELS,
                                 REASON_LABELS=labels.REASON_LABELS,
                                 ROLE_LABELS=labels.ROLE_LABELS)
    init_access(app)
    for blueprint in (
        session_auth.bp,
        enroll_views.bp,
        queue_views.bp,
        sync_views.bp,
        pages.bp,
    ):
        app.register_blueprint(blueprint)
    return app


def _secret_key(home: Path) -> str:
    """The session key, kept in the home folder (0600) so a restart keeps operators logged in."""
    path = home / SECRET_NAME
    try:
        home.mkdir(parents=True, exist_ok=True)
        if path.exists():
            return path.read_text().strip()
        key = secrets.token_hex(32)
        with open(path, "x", encoding="ascii") as handle:
            path.chmod(0o600)
            handle.write(key)
        return key
    except FileExistsError:  # another process made it meanwhile
        return path.read_text().strip()
    except OSError as exc:
        raise StorageError(f"Kunci sesi {path} tidak dapat dibuat: {exc.strerror}.") from exc
