"""The start page and the visit's target list."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, redirect, render_template, request, url_for

from field_client.errors import UsageInvalid
from field_client.ui.access import client
from field_client.ui.session_auth import login_required

bp = Blueprint("pages", __name__)
#: Rows drawn at once; a longer list asks the operator to narrow it with the search box.
MAX_ROWS = 500


@bp.get("/")
def home() -> Any:
    """Unregistered laptops register; everyone else goes to the queue (login first)."""
    if not client().status()["registered"]:
        return redirect(url_for("auth.register"))
    return redirect(url_for("queue.queue"))


@bp.get("/kunjungan")
@login_required
def visit() -> Any:
    """The visits' target lists: who is recorded already, who not yet; searchable offline."""
    device = client()
    search = request.args.get("q", "").strip()
    only = request.args.get("tampil", "")
    error = None
    try:
        targets = device.targets(search or None, data_key=g.data_key)
    except UsageInvalid as exc:  # a search too long: say so next to the box
        error, targets = exc.message, []
    if only == "belum":
        targets = [t for t in targets if not t["done"]]
    elif only == "sudah":
        targets = [t for t in targets if t["done"]]
    return (
        render_template(
            "visit.html",
            visits=device.visits(g.data_key),
            targets=targets[:MAX_ROWS],
            matched=len(targets),
            max_rows=MAX_ROWS,
            search=search,
            only=only,
            error=error,
        ),
        200 if error is None else 400,
    )
