"""The device's side of outreach: the target list of a visit assigned to it."""

from __future__ import annotations

import gzip
import json
from typing import Any

from flask import Blueprint, Response, g, request
from marshmallow import Schema, fields

from server.auth import device_required
from server.services import outreach
from shared.protocol import API_PREFIX

bp = Blueprint("outreach", __name__, url_prefix=f"{API_PREFIX}/outreach")
#: Below this a gzip body saves too little to be worth the work.
GZIP_MIN_BYTES = 1024


class VisitSchema(Schema):
    """A visit as the device stores it."""

    id = fields.String(required=True)
    desa_kode = fields.String(required=True)
    desa_nama = fields.String(required=True)
    kecamatan_kode = fields.String(required=True)
    kecamatan_nama = fields.String(required=True)
    visit_date = fields.Date(required=True)
    ends_on = fields.Date(required=True)
    days = fields.Integer(required=True)
    team = fields.String(required=True)
    state = fields.String(required=True)
    target_count = fields.Integer(required=True)


class TargetSchema(Schema):
    """One resident on the list: enough to find and prefill, nothing more."""

    nik = fields.String(required=True)
    nama = fields.String(required=True)
    tanggal_lahir = fields.Date(required=True)
    jenis_kelamin = fields.String(required=True)
    alamat = fields.String(allow_none=True)
    rt = fields.String(allow_none=True)
    rw = fields.String(allow_none=True)


class TargetListSchema(Schema):
    visit = fields.Nested(VisitSchema, required=True)
    targets = fields.List(fields.Nested(TargetSchema), required=True)


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
