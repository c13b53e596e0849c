"""``GET /api/v1/openapi.json``: the API description, generated from the shared schemas."""

from __future__ import annotations

import re
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Blueprint, Flask, current_app
from marshmallow import Schema, fields

from shared import schemas
from shared.protocol import API_PREFIX, PROBLEM_MEDIA_TYPE, PROTOCOL_HEADER, PROTOCOL_VERSION

bp = Blueprint("openapi", __name__, url_prefix=API_PREFIX)
CACHE_KEY = "jemput.openapi"


class ProblemSchema(Schema):
    """RFC 9457 problem details, as every error of this API is answered."""

    type = fields.String(required=True)
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String(required=True)
    code = fields.String(required=True)
    errors = fields.Dict(metadata={"description": "Field errors, by field name."})


class HealthSchema(Schema):
    status = fields.String(required=True)
    database = fields.String(required=True)


def _json(schema: str) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def _problem(description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {PROBLEM_MEDIA_TYPE: {"schema": "Problem"}}}


UNAUTHORIZED = _problem("Missing, malformed, unknown or revoked device token")
#: Every device operation but tus OPTIONS: the protocol header, checked before anything else.
PROTOCOL = [{"in": "header", "name": PROTOCOL_HEADER, "required": True,
             "schema": {"type": "string", "enum": [str(PROTOCOL_VERSION)]},
             "description": f"The protocol version; without it (or with another) the request is "
                            f"refused whole with 426 client_outdated, before authentication and "
                            f"before the body is read (Upgrade: {PROTOCOL_HEADER}/"
                            f"{PROTOCOL_VERSION})."}]
OUTDATED = _problem(f"No {PROTOCOL_HEADER}: {PROTOCOL_VERSION} header: an older field client, "
                    "refused whole (nothing stored)")
TUS = "tus 1.0.0 (https://tus.io/protocols/resumable-upload); every request but OPTIONS " \
    "carries Tus-Resumable: 1.0.0, else 412. The file travels sealed to the office key: " \
    "Upload-Length and the chunk checksums cover the sealed bytes (size + 48)."
UPLOAD_ID = [{"in": "path", "name": "upload_id", "required": True, "schema": {"type": "string"}},
             *PROTOCOL]
UPLOAD_GONE = _problem("Unknown, another device's or terminated upload")
UPLOAD_OPERATIONS: dict[str, dict[str, Any]] = {
    "uploads.options": {"options": {
        "summary": "tus capabilities: Tus-Version, Tus-Extension, Tus-Max-Size", "security": [],
        "description": TUS, "responses": {"204": {"description": "Capabilities in headers"}}}},
    "uploads.create": {"post": {
        "summary": "Create an upload of a sealed file (headers Upload-Length = size + 48, "
                   "Upload-Metadata: sha256 and size of the plaintext, key_id, media_type, "
                   "filename)", "description": TUS, "parameters": PROTOCOL,
        "responses": {"201": {"description": "Location and Upload-Offset (== Upload-Length "
                                             "when the server holds the file already)"},
                      "400": _problem("Bad Upload-Length or Upload-Metadata (Upload-Length "
                                      "is not size + 48)"), "401": UNAUTHORIZED,
                      "412": _problem("Tus-Resumable missing"),
                      "413": _problem("size larger than the largest file"),
                      "422": _problem("key_id names a key the office does not hold"),
                      "426": OUTDATED}}},
    "uploads.upload": {"head": {
        "summary": "Offset of an upload", "parameters": UPLOAD_ID,
        "responses": {"200": {"description": "Upload-Offset, Upload-Length, Upload-Metadata "
                                             "(sha256, size, key_id, media_type, filename)"},
                      "401": UNAUTHORIZED, "404": UPLOAD_GONE,
                      "410": _problem("Expired, or failed its final check"),
                      "426": OUTDATED}}},
    "uploads.append": {"patch": {
        "summary": "Append bytes at Upload-Offset (optional Upload-Checksum: sha256 <base64>)",
        "parameters": UPLOAD_ID,
        "requestBody": {"required": True, "content": {
            "application/offset+octet-stream": {"schema": {"type": "string",
                                                           "format": "binary"}}}},
        "responses": {"204": {"description": "New Upload-Offset"}, "401": UNAUTHORIZED,
                      "404": UPLOAD_GONE, "409": _problem("Upload-Offset mismatch"),
                      "410": _problem("Expired or failed"),
                      "413": _problem("Bytes past Upload-Length"),
                      "415": _problem("Not application/offset+octet-stream"),
                      "422": _problem("The whole sealed file does not open with its key "
                                      "(discarded)"),
                      "423": _problem("Another request is writing this upload"),
                      "426": OUTDATED,
                      "460": _problem("Chunk checksum mismatch, or the plaintext does not "
                                      "match its sha256 or size"),
                      "507": _problem("Server storage full")}}},
    "uploads.terminate": {"delete": {
        "summary": "Terminate an upload (its partial bytes are deleted)", "parameters": UPLOAD_ID,
        "responses": {"204": {"description": "Terminated"}, "401": UNAUTHORIZED,
                      "404": UPLOAD_GONE, "423": _problem("Being written right now"),
                      "426": OUTDATED}}},
}
# Operations by Flask endpoint; any route missing here is still listed, from its docstring.
OPERATIONS: dict[str, dict[str, Any]] = {
    "health.index": {"get": {
        "summary": "What this server is and where its API lives", "security": [],
        "responses": {"200": {"description": "Links to the API, its spec and health"}}}},
    "health.healthz": {"get": {
        "summary": "Liveness and database check", "security": [],
        "responses": {"200": {"description": "Up", **_json("Health")},
                      "503": _problem("The database does not answer")}}},
    "devices.register": {"post": {
        "summary": "Register a device with a one-time code", "security": [],
        "parameters": PROTOCOL,
        "requestBody": {"required": True, **_json("RegisterRequest")},
        "responses": {"201": {"description": "Registered", **_json("RegisterResponse")},
                      "400": _problem("Invalid body or unknown code"),
                      "409": _problem("Code already used"),
                      "410": _problem("Code expired"), "426": OUTDATED}}},
    "sync.push": {"post": {
        "summary": "Push a batch of sealed records (gzip request bodies accepted)",
        "parameters": PROTOCOL,
        "requestBody": {"required": True, **_json("PushRequest"),
                        "description": "Each item follows the SealedRecord schema: the "
                                       "envelope in clear, the record (the Record schema) "
                                       "sealed to the office key."},
        "responses": {"200": {"description": "One result per record", **_json("PushResponse")},
                      "400": _problem("Not JSON or not the schema"), "401": UNAUTHORIZED,
                      "413": _problem("Body or batch too large"), "426": OUTDATED}}},
    "sync.pull": {"get": {
        "summary": "Changes for this device after a cursor (a record sent back carries its "
                   "data under the device's data key)",
        "parameters": [{"in": "query", "schema": schemas.PullQuerySchema}, *PROTOCOL],
        "responses": {"200": {"description": "A page of changes", **_json("PullResponse")},
                      "400": _problem("Bad query parameters"), "401": UNAUTHORIZED,
                      "426": OUTDATED}}},
    "device_profile.profile": {"get": {
        "summary": "This device's profile: per active operator a wrap of its data key, the "
                   "office key, and its team, desa and operators' names under the data key",
        "parameters": [{"in": "header", "name": "If-None-Match", "required": False,
                        "schema": {"type": "string"},
                        "description": "The version (ETag) the device holds"}, *PROTOCOL],
        "responses": {"200": {"description": "The profile; ETag is its version",
                              **_json("DeviceProfile")},
                      "304": {"description": "The device's version is current"},
                      "401": UNAUTHORIZED, "426": OUTDATED}}},
    "outreach_device.visit_targets": {"get": {
        "summary": "The target list of a visit assigned to this device, under its data key "
                   "(gzip when accepted)",
        "parameters": [{"in": "path", "name": "visit_id", "required": True,
                        "schema": {"type": "string"}}, *PROTOCOL],
        "responses": {"200": {"description": "The visit; sealed holds the TargetsContent",
                              **_json("TargetList")},
                      "401": UNAUTHORIZED,
                      "403": _problem("The visit is assigned to another device"),
                      "404": _problem("No such visit"),
                      "410": _problem("The visit is over or cancelled"), "426": OUTDATED}}},
    **UPLOAD_OPERATIONS,
    "openapi.spec": {"get": {
        "summary": "This document", "security": [],
        "responses": {"200": {"description": "OpenAPI 3.1 document"}}}},
}
COMPONENTS: dict[str, type[Schema]] = {
    "Problem": ProblemSchema,
    "Health": HealthSchema,
    "Record": schemas.RecordSchema,
    "SealedRecord": schemas.SealedRecordSchema,
    "RegisterRequest": schemas.RegisterRequestSchema,
    "RegisterResponse": schemas.RegisterResponseSchema,
    "PushRequest": schemas.PushRequestSchema,
    "PushResponse": schemas.PushResponseSchema,
    "PullResponse": schemas.PullResponseSchema,
    "ReturnedRecord": schemas.ReturnedRecordSchema,  # before Returned, which nests it
    "Returned": schemas.ReturnedSchema,
    "DeviceProfile": schemas.DeviceProfileSchema,
    "TargetList": schemas.TargetListSchema,
    "TargetsContent": schemas.TargetsContentSchema,
}


@bp.get("/openapi.json")
def spec() -> dict[str, Any]:
    """The OpenAPI document of this server (built once per process)."""
    if CACHE_KEY not in current_app.extensions:
        current_app.extensions[CACHE_KEY] = build_spec(current_app)
    return current_app.extensions[CACHE_KEY]


def build_spec(app: Flask) -> dict[str, Any]:
    """An OpenAPI 3.1 document listing every route of ``app``."""
    spec = APISpec(
        title="Jemput API", version=str(PROTOCOL_VERSION), openapi_version="3.1.0",
        plugins=[MarshmallowPlugin()],
        security=[{"deviceToken": []}],
    )
    spec.components.security_scheme("deviceToken", {"type": "http", "scheme": "bearer"})
    for name, schema in COMPONENTS.items():
        spec.components.schema(name, schema=schema)
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        operations = OPERATIONS.get(rule.endpoint) or _undocumented(
            app, rule.endpoint, rule.methods
        )
        spec.path(path=re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule),
                  operations=operations)
    return spec.to_dict()


def _undocumented(app: Flask, endpoint: str, methods: set[str] | None) -> dict[str, Any]:
    doc = (app.view_functions[endpoint].__doc__ or endpoint).strip().splitlines()[0]
    verbs = sorted((methods or set()) - {"HEAD", "OPTIONS"})
    return {verb.lower(): {"summary": doc, "responses": {"200": {"description": "OK"}}}
            for verb in verbs}
