"""Suket issuance and lists as JSON for office users (office API)."""

from __future__ import annotations

from typing import Any

from flask import current_app, g, request
from marshmallow import RAISE, Schema, fields, validate

from server.accounts.office_auth import office_api_blueprint, user_required
from server.cards import suket
from server.core import paging
from server.core.serialize import jsonable
from server.http.body import json_object, load, load_query

bp = office_api_blueprint("suket_api", __name__)


class IssueRequestSchema(Schema):
    """Issue a Suket for an approved record; ``on_request`` even while blanks are in stock."""

    class Meta:
        unknown = RAISE

    record_id = fields.String(required=True, validate=validate.Length(min=1, max=36))
    on_request = fields.Boolean(load_default=False, truthy={True}, falsy={False})


class ListQuerySchema(Schema):
    """``?status=waiting|valid|expiring|expired|superseded|all&q=&after=&limit=``."""

    class Meta:
        unknown = RAISE

    status = fields.String(load_default="waiting", validate=validate.OneOf(suket.STATUSES))
    q = fields.String(load_default="", validate=validate.Length(max=64))
    after = fields.String(load_default=None, validate=validate.Length(max=200))
    limit = fields.Integer(load_default=paging.DEFAULT_LIMIT,
                           validate=validate.Range(min=1, max=paging.MAX_LIMIT))


ISSUE_REQUEST = IssueRequestSchema()
LIST_QUERY = ListQuerySchema()


def suket_document(info: suket.SuketInfo) -> dict[str, Any]:
    """One Suket as JSON, with its verification URL and whether its holder must come back."""
    document: dict[str, Any] = jsonable(info)
    document["waiting"] = info.waiting
    document["verify_url"] = verify_url(info)
    return document


def verify_url(info: suket.SuketInfo) -> str:
    """Where the Suket's QR code points: ``JEMPUT_PUBLIC_URL`` or this request's host."""
    base = current_app.config.get("JEMPUT_PUBLIC_URL") or request.host_url
    return f"{base.rstrip('/')}/verify/{suket.token_for(info.id, info.number)}"


@bp.get("/suket")
@user_required
def list_sukets() -> Any:
    """Sukets by status (default: holders who must come back for a card), counts, stock."""
    query = load_query(LIST_QUERY)
    found = suket.listing(query["status"], query=query["q"], after=query["after"],
                          limit=query["limit"])
    return {"status": found.status, "counts": found.counts, "total": found.total,
            "next_after": found.next_after,
            "blanko_available": suket.available(),
            "items": [suket_document(item) for item in found.items]}


@bp.post("/suket")
@user_required
def issue_suket() -> Any:
    """``{record_id, on_request?}``: issue a Suket (supervisor, admin)."""
    body = load(ISSUE_REQUEST, json_object())
    info = suket.issue(body["record_id"], g.actor, on_request=body["on_request"])
    return {"suket": suket_document(info)}, 201


@bp.get("/suket/<suket_id>")
@user_required
def get_suket(suket_id: str) -> Any:
    """One Suket."""
    return {"suket": suket_document(suket.get(suket.parse_id(suket_id)))}


@bp.post("/suket/<suket_id>/renew")
@user_required
def renew_suket(suket_id: str) -> Any:
    """Six more months while no blank is in stock (supervisor, admin)."""
    return {"suket": suket_document(suket.renew(suket.parse_id(suket_id), g.actor))}
