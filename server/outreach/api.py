"""Outreach planning as JSON for office users (office API)."""

from __future__ import annotations

from typing import Any

from flask import g, request
from marshmallow import RAISE, Schema, fields

from server.accounts.office_auth import office_api_blueprint, user_required
from server.core.errors import InvalidInput
from server.core.models.outreach import VISIT_STATES
from server.core.serialize import jsonable
from server.coverage import figures
from server.http.body import json_object, load
from server.outreach import visits as outreach

bp = office_api_blueprint("outreach_api", __name__)


class CloseRequestSchema(Schema):
    """Close a visit, or cancel it when it never happened."""

    class Meta:
        unknown = RAISE

    cancel = fields.Boolean(load_default=False, truthy={True}, falsy={False})


VISIT_REQUEST = outreach.VisitRequestSchema()
CLOSE_REQUEST = CloseRequestSchema()


@bp.get("/outreach/ranking")
@user_required
def get_ranking() -> Any:
    """Desa ranked for the next visit at ``?at=`` under ``?kecamatan=``."""
    at = figures.reference_date(request.args.get("at"))
    kecamatan = request.args.get("kecamatan") or None
    return {"at": at.isoformat(), "kecamatan": kecamatan,
            "desa": jsonable(outreach.ranking(at, kecamatan))}


@bp.get("/outreach/visits")
@user_required
def list_visits() -> Any:
    """Visits by date, optionally ``?state=planned|closed|cancelled`` and ``?desa=``."""
    state = request.args.get("state") or None
    if state is not None and state not in VISIT_STATES:
        raise InvalidInput(f"'state' harus salah satu dari: {', '.join(VISIT_STATES)}.",
                           errors={"state": ["tidak dikenal"]})
    return {"visits": jsonable(outreach.visits(state, request.args.get("desa") or None))}


@bp.post("/outreach/visits")
@user_required
def create_visit() -> Any:
    """``{desa_kode, visit_date, team, device_id, days?}``: plan a visit (supervisor, admin)."""
    body = load(VISIT_REQUEST, json_object())
    visit = outreach.create_visit(body["desa_kode"], body["visit_date"], body["team"],
                                  body["device_id"], days=body["days"], actor=g.actor)
    return {"visit": jsonable(visit)}, 201


@bp.get("/outreach/visits/<visit_id>")
@user_required
def get_visit(visit_id: str) -> Any:
    """One visit with its progress and target list (done or not yet)."""
    return jsonable(outreach.progress_document(outreach.visit_progress(visit_id)))


@bp.post("/outreach/visits/<visit_id>/close")
@user_required
def close_visit(visit_id: str) -> Any:
    """``{cancel?: bool}``: close the visit, or cancel it (supervisor, admin)."""
    body = load(CLOSE_REQUEST, json_object())
    visit = outreach.close_visit(visit_id, actor=g.actor, cancel=body["cancel"])
    return {"visit": jsonable(visit)}

