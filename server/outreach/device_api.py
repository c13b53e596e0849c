"""The device's side of outreach: the target list of a visit assigned to it.

The list travels (and rests on the laptop) under the device's data key: ``sealed`` is the base64
of ``shared.datakey.encrypt_json`` of ``{"targets": [...]}`` (``TargetsContentSchema``).
"""

from __future__ import annotations

import gzip
import json
from typing import Any

from flask import Blueprint, Response, g, request

from server.accounts.device_auth import device_required
from server.accounts.devices import device_data_key
from server.core.extensions import db
from server.http.protocol import device_protocol
from server.outreach import visits as outreach
from shared import datakey
from shared.protocol import API_PREFIX
from shared.schemas import TargetListSchema, TargetsContentSchema
from shared.sealing import b64

#: Every request names the protocol version (426 ``client_outdated`` otherwise).
bp = device_protocol(Blueprint("outreach_device", __name__, url_prefix=f"{API_PREFIX}/outreach"))
#: Below this a gzip body saves too little to be worth the work. The box is gzipped inside
#: already; what HTTP gzip still saves is base64's quarter (a 2,000-name list: 62 KB -> 47 KB).
GZIP_MIN_BYTES = 1024
TARGET_LIST = TargetListSchema()
TARGETS_CONTENT = TargetsContentSchema()


@bp.get("/visits/<visit_id>/targets")
@device_required
def visit_targets(visit_id: str) -> Response:
    """The target list of a planned visit assigned to this device, under its data key (gzip
    when accepted)."""
    visit, targets = outreach.targets_for_device(visit_id, g.device.id)
    data_key = device_data_key(g.device)
    db.session.commit()  # a data key made just now (a device older than 0008) is kept
    content = TARGETS_CONTENT.dump({"targets": targets})
    sealed = b64(datakey.encrypt_json(data_key, content))
    return _json_response(TARGET_LIST.dump({"visit": visit, "sealed": sealed}))


def _json_response(document: dict[str, Any]) -> Response:
    """Compact JSON, gzip-compressed when the client accepts it."""
    body = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
    response = Response(body, mimetype="application/json")
    response.headers["Cache-Control"] = "no-store"  # residents' data: no copies on the way
    response.vary.add("Accept-Encoding")
    if len(body) >= GZIP_MIN_BYTES and request.accept_encodings.quality("gzip") > 0:
        response.set_data(gzip.compress(body, compresslevel=6))
        response.headers["Content-Encoding"] = "gzip"
    return response
