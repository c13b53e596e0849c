"""The queue: every record with its state and reason, drafts, counts, and the sync button."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, render_template, request

from field_client.store.records import CLIENT_STATES
from field_client.ui.access import client
from field_client.ui.session_auth import login_required
from field_client.ui.sync_views import runner
from shared.labels import STATE_LABELS

bp = Blueprint("queue", __name__)
#: States with a next step for the operator, and the button's wording.
FIX_ACTIONS = {"needs_fix": "Perbaiki & kirim ulang", "rejected": "Rekam ulang"}
#: Rows drawn at once (newest first); the counts above the table are always complete.
MAX_ROWS = 300


@bp.get("/antrean")
@login_required
def queue() -> Any:
    """All records (or one state's), newest first, with drafts on top."""
    device = client()
    state = request.args.get("status") or None
    if state is not None and state not in CLIENT_STATES:
        state = None
    rows = [] if state == "draft" else device.records(state, g.data_key)
    rows.reverse()
    info = device.status()
    return render_template(
        "queue.html",
        rows=rows[:MAX_ROWS],
        hidden=max(0, len(rows) - MAX_ROWS),
        drafts=device.drafts(g.data_key) if state in (None, "draft") else [],
        info=info,
        state=state,
        states=CLIENT_STATES,
        labels=STATE_LABELS,
        fix_actions=FIX_ACTIONS,
        sync=runner().snapshot(),
    )
