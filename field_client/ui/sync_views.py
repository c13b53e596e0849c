"""The "Sinkronkan sekarang" button and the status the pages poll (counts, network, progress)."""

from __future__ import annotations

import threading
import time
from typing import Any

from flask import Blueprint, current_app, flash, redirect, request, url_for

from field_client.ui.access import client
from field_client.ui.session_auth import login_required
from field_client.ui.sync_runner import SyncRunner

bp = Blueprint("sync", __name__)
#: How long a network check is trusted: the page polls often, the server is asked rarely.
NETWORK_TTL = 10.0


@bp.post("/sinkron")
@login_required
def start() -> Any:
    """Start a sync in the background (a second press while one runs changes nothing)."""
    started = runner().start()
    if request.accept_mimetypes.best == "application/json":
        return {"started": started, "sync": runner().snapshot()}, 202
    if not started:
        flash("Sinkronisasi sudah berjalan.", "info")
    return redirect(url_for("queue.queue"), code=303)


@bp.get("/status.json")
@login_required
def status() -> Any:
    """Counts per state, the network, the last good sync and the running sync's progress."""
    device = client()
    # The run's progress first: once it says "ended", the outbox read after it holds what the
    # run noted (read the other way round, a run ending in between showed a finished sync
    # with the previous last-sync time).
    sync = runner().snapshot()
    info = device.status()
    return {
        "counts": info["counts"],
        "drafts": info.get("drafts", 0),
        "total": info["total"],
        "last_sync_at": info["last_sync_at"],
        "last_sync_error": info["last_sync_error"],
        "files": info["files"],
        "online": _network().online(device) if not sync["running"] else True,
        "sync": sync,
    }


def runner() -> SyncRunner:
    """The app's one sync runner."""
    found: SyncRunner = current_app.extensions["jemput_sync"]
    return found


class _NetworkCheck:
    """Whether the server answered lately; asks at most every :data:`NETWORK_TTL` seconds."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._at = 0.0
        self._online = False

    def online(self, device: Any) -> bool:
        with self._lock:
            if time.monotonic() - self._at < NETWORK_TTL:
                return self._online
        answer = bool(device.server_reachable())
        with self._lock:
            self._online, self._at = answer, time.monotonic()
        return answer


def _network() -> _NetworkCheck:
    found: _NetworkCheck = current_app.extensions.setdefault("jemput_network", _NetworkCheck())
    return found
