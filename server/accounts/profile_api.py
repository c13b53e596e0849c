"""The device's profile: who may log in on it offline, and which desa it serves."""

from __future__ import annotations

import json

from flask import Blueprint, Response, g, request

from server.accounts import operators
from server.accounts.device_auth import device_required
from server.http.protocol import device_protocol
from shared.protocol import API_PREFIX
from shared.schemas import DeviceProfileSchema

#: Every request names the protocol version (426 ``client_outdated`` otherwise).
bp = device_protocol(Blueprint("device_profile", __name__, url_prefix=f"{API_PREFIX}/device"))
DEVICE_PROFILE = DeviceProfileSchema()


@bp.get("/profile")
@device_required
def profile() -> Response:
    """This device's profile; 304 when ``If-None-Match`` names its current version."""
    document = DEVICE_PROFILE.dump(operators.profile_for_device(g.device))
    if request.if_none_match.contains_weak(document["version"]):
        response = Response(status=304)
    else:
        body = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
        response = Response(body, mimetype="application/json")
    response.set_etag(document["version"])
    response.headers["Cache-Control"] = "no-store"  # PIN hashes: no copies on the way
    return response
