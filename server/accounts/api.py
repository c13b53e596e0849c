"""``POST /api/v1/devices``: register a device with a one-time code."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from server.accounts import devices
from server.core import keyring
from server.core.timeutil import isoformat_z, utcnow
from server.http.body import json_object, load
from server.http.protocol import device_protocol
from shared.protocol import API_PREFIX, PROTOCOL_VERSION
from shared.schemas import RegisterRequestSchema, RegisterResponseSchema
from shared.sealing import b64

#: Every request names the protocol version (426 ``client_outdated`` otherwise).
bp = device_protocol(Blueprint("devices", __name__, url_prefix=API_PREFIX))
REGISTER_REQUEST = RegisterRequestSchema()
REGISTER_RESPONSE = RegisterResponseSchema()


def office_key() -> dict[str, str]:
    """The key the laptop seals records and files to: its id and public key (base64)."""
    key = keyring.current().sealing
    return {"kid": key.kid, "public": b64(key.public)}


@bp.post("/devices")
def register() -> tuple[dict[str, Any], int]:
    """Trade a one-time registration code for a device id and bearer token."""
    request = load(REGISTER_REQUEST, json_object())
    device, token = devices.register_device(request["code"], request["name"],
                                            request["first_seq"], request["previous_token"])
    answer = {
        "device_id": device.id,
        "token": token,
        "team": device.team,
        "name": device.name,
        "server_time": isoformat_z(utcnow()),
        "protocol_version": PROTOCOL_VERSION,
        "office_key": office_key(),
    }
    return REGISTER_RESPONSE.dump(answer), 201
