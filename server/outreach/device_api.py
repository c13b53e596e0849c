"""The device's side of outreach: the target list of a visit assigned to it."""

from __future__ import annotations

import gzip
import json
from typing import Any

from flask import Blueprint, Response, g, request

from server.accounts.device_auth import device_required
from server.outreach import visits as outreach
from shared.protocol import API_PREFIX
from shared.schemas import TargetListSchema

bp = Blueprint("outreach_device", __name__, url_prefix=f"{API_PREFIX}/outreach")
#: Below this a gzip body saves too little to be worth the work.
GZIP_MIN_BYTES = 1024
TARGET_LIST = TargetListSchema()


@bp.get("/visits/<visit_id>/targets")
@device_required
def visit_targets(visit_id: str) -> Response:
    """The target list of a planned visit assigned to this device (gzip when accepted)."""
    visit, targets = outreach.targets_for_device(visit_id, g.device.id)
    return _json_response(TARGET_LIST.dump({"visit": visit, "targets": targets}))


def _json_response(document: dict[str, Any]) -> Response:
    """Compact JSON, gzip-compressed when the client accepts it (a 2,000-name list shrinks ~6x)."""
    body = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
    response = Response(body, mimetype="application/json")
    response.headers["Cache-Control"] = "no-store"  # residents' data: no copies on the way
    response.vary.add("Accept-Encoding")
    if len(body) >= GZIP_MIN_BYTES and request.accept_encodings.quality("gzip") > 0:
        response.set_data(gzip.compress(body, compresslevel=6))
        response.headers["Content-Encoding"] = "gzip"
    return response
