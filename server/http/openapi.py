"""``GET /api/v1/openapi.json``: the description of the JSON API, generated from its schemas.

The document covers every JSON operation of the server and nothing else: the device API
(``/api/v1/...``, a device token), the office's JSON API (``/api/v1/office/...``, an office
user's API token), ``/``, ``/healthz``, ``/readyz``, the public Suket check ``/verify/<token>``
(JSON to a script) and this document. The office's HTML pages (``/office/...``) and the static
files are for browsers and are left out.

The device operations (whose schemas live in ``shared/schemas.py``) are described here; each
office domain describes its own operations next to its schemas (``server/<domain>/schemas.py``)
and hands them over with :func:`describe` from its ``init_app``. An API route nobody described
is still listed, marked ``x-jemput-undescribed`` (a test fails on it).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Blueprint, Flask, current_app
from marshmallow import Schema, fields

from shared import schemas, vocab
from shared.protocol import (
    API_PREFIX,
    PROBLEM_MEDIA_TYPE,
    PROTOCOL_HEADER,
    PROTOCOL_VERSION,
    TUS_OFFSET_STREAM,
    TUS_VERSION,
)

bp = Blueprint("openapi", __name__, url_prefix=API_PREFIX)
CACHE_KEY = "jemput.openapi"
#: Operations the domains describe (:func:`describe`), by Flask endpoint.
DESCRIBED_KEY = "jemput.openapi.operations"
#: Routes outside ``API_PREFIX`` that answer JSON (``/verify`` to ``Accept: application/json``).
PUBLIC_JSON_PATHS = ("/", "/healthz", "/readyz", "/verify/<token>")
UNDESCRIBED = "x-jemput-undescribed"

#: Security requirements: a device's token, an office user's API token, nothing.
DEVICE: list[dict[str, list[str]]] = [{"deviceToken": []}]
USER: list[dict[str, list[str]]] = [{"userToken": []}]
PUBLIC: list[dict[str, list[str]]] = []
SECURITY_SCHEMES = {
    "deviceToken": {
        "type": "http", "scheme": "bearer",
        "description": "A field device's token, from POST /api/v1/devices (one per "
                       "registration, revocable, expires when unused for long). Every device "
                       "operation; never accepted by the office API."},
    "userToken": {
        "type": "http", "scheme": "bearer",
        "description": "An office user's API token, from `jemput-server user-token NAME` (a "
                       "new one replaces the old). Every /api/v1/office operation; the user's "
                       "role decides what it may do (403 otherwise). The office session cookie "
                       "is never accepted here."},
}


class ProblemSchema(Schema):
    """RFC 9457 problem details, as every error of this API is answered."""

    type = fields.String(required=True)
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String(required=True)
    code = fields.String(required=True)
    errors = fields.Dict(metadata={"description": "Field errors, by field name."})


class HealthSchema(Schema):
    """``GET /healthz``."""

    status = fields.String(required=True)
    database = fields.String(required=True)


class ReadySchema(Schema):
    """``GET /readyz``: each check (database, blob_store, disk) and ``ok``."""

    status = fields.String(required=True)
    checks = fields.Dict(keys=fields.String(), values=fields.String(), required=True)


class IndexSchema(Schema):
    """``GET /`` for a script: what this server is and where its API lives."""

    name = fields.String(required=True)
    description = fields.String(required=True)
    protocol_version = fields.Integer(required=True)
    api = fields.String(required=True)
    openapi = fields.String(required=True)
    health = fields.String(required=True)


class OpenApiDocumentSchema(Schema):
    """This document (OpenAPI 3.1)."""

    openapi = fields.String(required=True)
    info = fields.Dict(required=True)
    paths = fields.Dict(required=True)
    components = fields.Dict(required=True)


# -- building blocks, for this module and the domains' descriptions -------------------------


def json_content(schema: str | type[Schema] | dict[str, Any],
                 media_type: str = "application/json") -> dict[str, Any]:
    """``content`` of one media type (a schema class, a component name or a JSON schema)."""
    return {"content": {media_type: {"schema": schema}}}


def problem(description: str) -> dict[str, Any]:
    """An error answer: problem+json."""
    return {"description": description,
            "content": {PROBLEM_MEDIA_TYPE: {"schema": "Problem"}}}


def path_parameter(name: str, pattern: str, description: str = "") -> dict[str, Any]:
    """A path parameter of string ``pattern`` (anything else is a 404)."""
    return {"in": "path", "name": name, "required": True,
            "schema": {"type": "string", "pattern": pattern},
            "description": description or f"Anything not matching {pattern} is a 404."}


#: Identifiers in URLs, as the server makes them.
UUID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
NUMBER_PATTERN = r"^[1-9][0-9]{0,11}$"
VISIT_PATTERN = schemas.VISIT_ID.pattern
UPLOAD_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"

USER_UNAUTHORIZED = problem("Missing, malformed, unknown or replaced user token "
                            "(`unauthorized`); a device token is not a user token")
USER_FORBIDDEN = problem("The user's role may not do this (`forbidden`); nothing is written")
BAD_QUERY = problem("A query parameter is malformed or unknown (`invalid_input`, with "
                    "`errors` by parameter)")
BAD_BODY = problem("The body is not a JSON object or breaks its schema (`invalid_input`, with "
                   "`errors` by field)")
TOO_LARGE = problem("The body is larger than the server takes (`payload_too_large`)")


def office(summary: str, ok: type[Schema] | str | None, *, status: int = 200,
           query: type[Schema] | Iterable[dict[str, Any]] | None = None,
           path: Iterable[dict[str, Any]] = (), body: type[Schema] | None = None,
           errors: Mapping[int, str] | None = None, csv: str | None = None,
           description: str | None = None, writes: bool = False,
           ok_content: dict[str, Any] | None = None) -> dict[str, Any]:
    """One operation of the office JSON API (user token), with the answers every one of them
    may give: 401, 400 for a query or a body, 403 where it writes, 413 for a body."""
    parameters: list[dict[str, Any]] = list(path)
    if isinstance(query, type):
        parameters.append({"in": "query", "schema": query})
    elif query is not None:
        parameters.extend(query)
    if ok_content is not None:
        content = ok_content
    else:
        content = json_content(ok)["content"] if ok is not None else {}
    description_ok = summary
    if csv:
        content = {**content, "text/csv": {"schema": {"type": "string"}}}
        description_ok = f"{summary}; CSV with {csv}"
    responses: dict[str, Any] = {str(status): {"description": description_ok,
                                               "content": content}}
    if query is not None:
        responses["400"] = BAD_QUERY
    if body is not None:
        responses["400"] = BAD_BODY
        responses["413"] = TOO_LARGE
    responses["401"] = USER_UNAUTHORIZED
    if writes:
        responses["403"] = USER_FORBIDDEN
    for code, text in (errors or {}).items():
        responses[str(code)] = problem(text)
    operation: dict[str, Any] = {"summary": summary, "security": USER, "tags": ["office"],
                                 "responses": dict(sorted(responses.items()))}
    if description:
        operation["description"] = description
    if parameters:
        operation["parameters"] = parameters
    if body is not None:
        operation["requestBody"] = {"required": True, **json_content(body)}
    return operation


def describe(app: Flask, operations: Mapping[str, Mapping[str, dict[str, Any]]]) -> None:
    """Add a domain's operations (``{endpoint: {method: operation}}``) to ``app``'s document."""
    app.extensions.setdefault(DESCRIBED_KEY, {}).update(operations)
    app.extensions.pop(CACHE_KEY, None)


# -- the device API --------------------------------------------------------------------------

UNAUTHORIZED = problem("Missing, malformed, unknown or revoked device token (`unauthorized`), "
                       "or one unused for too long (`token_expired`)")
#: Every device operation but tus OPTIONS: the protocol header, checked before anything else.
PROTOCOL = [{"in": "header", "name": PROTOCOL_HEADER, "required": True,
             "schema": {"type": "string", "enum": [str(PROTOCOL_VERSION)]},
             "description": f"The protocol version; without it (or with another) the request is "
                            f"refused whole with 426 client_outdated, before authentication and "
                            f"before the body is read (Upgrade: {PROTOCOL_HEADER}/"
                            f"{PROTOCOL_VERSION})."}]
OUTDATED = problem(f"No {PROTOCOL_HEADER}: {PROTOCOL_VERSION} header: an older field client, "
                   "refused whole (nothing stored)")
TUS = "tus 1.0.0 (https://tus.io/protocols/resumable-upload); every request but OPTIONS " \
    "carries Tus-Resumable: 1.0.0, else 412. The file travels sealed to the office key: " \
    "Upload-Length and the chunk checksums cover the sealed bytes (size + 48)."
TUS_RESUMABLE = [{"in": "header", "name": "Tus-Resumable", "required": True,
                  "schema": {"type": "string", "enum": [TUS_VERSION]},
                  "description": "The tus version; without it 412 (checked after the protocol "
                                 "header, before the token)."}]
UPLOAD_ID = [path_parameter("upload_id", UPLOAD_PATTERN, "The upload's id, from the Location "
                                                         "of its creation"),
             *PROTOCOL, *TUS_RESUMABLE]
TUS_REFUSED = problem("Tus-Resumable missing or not 1.0.0 (`tus_version_unsupported`)")
UPLOAD_GONE = problem("Unknown, another device's or terminated upload")
NO_CONTENT = {"description": "No body"}


def _device(operation: dict[str, Any]) -> dict[str, Any]:
    """A device operation: the device token, 401 and 426 (and the responses in order)."""
    responses = {"401": UNAUTHORIZED, "426": OUTDATED, **operation["responses"]}
    return {"security": DEVICE, "tags": ["device"], **operation,
            "responses": dict(sorted(responses.items()))}


UPLOAD_OPERATIONS: dict[str, dict[str, Any]] = {
    "uploads.options": {"options": {
        "summary": "tus capabilities: Tus-Version, Tus-Extension, Tus-Max-Size", "security": PUBLIC,
        "tags": ["device"], "description": TUS, "responses": {
            "204": {"description": "Capabilities in headers (no body)"}}}},
    "uploads.create": {"post": _device({
        "summary": "Create an upload of a sealed file (headers Upload-Length = size + 48, "
                   "Upload-Metadata: sha256 and size of the plaintext, key_id, media_type, "
                   "filename)", "description": TUS,
        "parameters": [*PROTOCOL, *TUS_RESUMABLE,
                       {"in": "header", "name": "Upload-Length", "required": True,
                        "schema": {"type": "string"},
                        "description": "The sealed file's length: size + 48"},
                       {"in": "header", "name": "Upload-Metadata", "required": True,
                        "schema": {"type": "string"},
                        "description": "tus metadata: sha256, size, key_id, media_type, "
                                       "filename, each base64"}],
        "responses": {"201": {"description": "Location and Upload-Offset (== Upload-Length "
                                             "when the server holds the file already)"},
                      "400": problem("Bad Upload-Length or Upload-Metadata (Upload-Length "
                                     "is not size + 48)"),
                      "412": TUS_REFUSED,
                      "413": problem("size larger than the largest file"),
                      "422": problem("key_id names a key the office does not hold"),
                      "429": problem("Too many open uploads, or too many of their bytes, for "
                                     "this device (`upload_quota`)"),
                      "507": problem("Server storage (nearly) full (`storage_full`)")}})},
    "uploads.upload": {"head": _device({
        "summary": "Offset of an upload", "parameters": UPLOAD_ID,
        "responses": {"200": {"description": "Upload-Offset, Upload-Length, Upload-Metadata "
                                             "(sha256, size, key_id, media_type, filename)"},
                      "404": UPLOAD_GONE, "410": problem("Expired, or failed its final check"),
                      "412": TUS_REFUSED}})},
    "uploads.append": {"patch": _device({
        "summary": "Append bytes at Upload-Offset (optional Upload-Checksum: sha256 <base64>)",
        "parameters": [*UPLOAD_ID, {"in": "header", "name": "Upload-Offset", "required": True,
                                    "schema": {"type": "string"},
                                    "description": "Where these bytes start"}],
        "requestBody": {"required": True, "content": {
            TUS_OFFSET_STREAM: {"schema": {"type": "string", "format": "binary"}}}},
        "responses": {"204": {"description": "New Upload-Offset"},
                      "400": problem("Bad Upload-Offset or Upload-Checksum, or the body was "
                                     "cut short"),
                      "404": UPLOAD_GONE, "409": problem("Upload-Offset mismatch"),
                      "410": problem("Expired or failed"), "412": TUS_REFUSED,
                      "413": problem("Bytes past Upload-Length"),
                      "415": problem(f"Not {TUS_OFFSET_STREAM}"),
                      "422": problem("The whole sealed file does not open with its key "
                                     "(discarded)"),
                      "423": problem("Another request is writing this upload"),
                      "460": problem("Chunk checksum mismatch, or the plaintext does not "
                                     "match its sha256 or size"),
                      "507": problem("Server storage full")}})},
    "uploads.terminate": {"delete": _device({
        "summary": "Terminate an upload (its partial bytes are deleted)", "parameters": UPLOAD_ID,
        "responses": {"204": {"description": "Terminated"}, "404": UPLOAD_GONE,
                      "412": TUS_REFUSED, "423": problem("Being written right now")}})},
}
# Operations by Flask endpoint: the device API and the public routes (the office API's are
# handed over by their domains, see :func:`describe`).
OPERATIONS: dict[str, dict[str, Any]] = {
    "health.index": {"get": {
        "summary": "What this server is and where its API lives (a browser asking for HTML is "
                   "sent to the office pages instead)", "security": PUBLIC, "tags": ["public"],
        "responses": {"200": {"description": "Links to the API, its document and health",
                              **json_content("Index")},
                      "302": {"description": "To /office/ (a browser that prefers HTML)"}}}},
    "health.healthz": {"get": {
        "summary": "Liveness and database check", "security": PUBLIC, "tags": ["public"],
        "responses": {"200": {"description": "Up", **json_content("Health")},
                      "503": problem("The database does not answer")}}},
    "health.readyz": {"get": {
        "summary": "Readiness: the database answers, the blob store writes, the data disks have "
                   "room", "security": PUBLIC, "tags": ["public"],
        "responses": {"200": {"description": "Ready", **json_content("Ready")},
                      "503": problem("Not ready (`service_unavailable`, the failing checks in "
                                     "`errors`)")}}},
    "devices.register": {"post": {
        "summary": "Register a device with a one-time code", "security": PUBLIC,
        "tags": ["device"], "parameters": PROTOCOL,
        "requestBody": {"required": True, **json_content("RegisterRequest")},
        "responses": {"201": {"description": "Registered", **json_content("RegisterResponse")},
                      "400": problem("Invalid body (`invalid_input`) or unknown code "
                                     "(`registration_code_invalid`)"),
                      "409": problem("Code already used"),
                      "410": problem("Code expired"), "413": TOO_LARGE, "426": OUTDATED,
                      "503": problem("The office key ring is not there (`keyring_missing`)")}}},
    "sync.push": {"post": _device({
        "summary": "Push a batch of sealed records (gzip request bodies accepted)",
        "parameters": PROTOCOL,
        "requestBody": {"required": True, **json_content("PushRequest"),
                        "description": "Each item follows the SealedRecord schema: the "
                                       "envelope in clear, the record (the Record schema) "
                                       "sealed to the office key."},
        "responses": {"200": {"description": "One result per record",
                              **json_content("PushResponse")},
                      "400": problem("Not JSON or not the schema"),
                      "413": problem("Body or batch too large"),
                      "415": problem("A Content-Encoding other than gzip")}})},
    "sync.pull": {"get": _device({
        "summary": "Changes for this device after a cursor (a record sent back carries its "
                   "data under the device's data key)",
        "parameters": [{"in": "query", "schema": schemas.PullQuerySchema}, *PROTOCOL],
        "responses": {"200": {"description": "A page of changes",
                              **json_content("PullResponse")},
                      "400": BAD_QUERY}})},
    "device_profile.profile": {"get": _device({
        "summary": "This device's profile: per active operator a wrap of its data key, the "
                   "office key, and its team, desa and operators' names under the data key",
        "parameters": [{"in": "header", "name": "If-None-Match", "required": False,
                        "schema": {"type": "string"},
                        "description": "The version (ETag) the device holds"}, *PROTOCOL],
        "responses": {"200": {"description": "The profile; ETag is its version",
                              **json_content("DeviceProfile")},
                      "304": {"description": "The device's version is current"}}})},
    "outreach_device.visit_targets": {"get": _device({
        "summary": "The target list of a visit assigned to this device, under its data key "
                   "(gzip when accepted)",
        "parameters": [path_parameter("visit_id", VISIT_PATTERN), *PROTOCOL],
        "responses": {"200": {"description": "The visit; sealed holds the TargetsContent",
                              **json_content("TargetList")},
                      "403": problem("The visit is assigned to another device"),
                      "404": problem("No such visit"),
                      "410": problem("The visit is over or cancelled")}})},
    **UPLOAD_OPERATIONS,
    "openapi.spec": {"get": {
        "summary": "This document", "security": PUBLIC, "tags": ["public"],
        "responses": {"200": {"description": "OpenAPI 3.1 document",
                              **json_content("OpenApiDocument")}}}},
}
COMPONENTS: dict[str, type[Schema]] = {
    "Problem": ProblemSchema,
    "Health": HealthSchema,
    "Ready": ReadySchema,
    "Index": IndexSchema,
    "OpenApiDocument": OpenApiDocumentSchema,
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
#: What a record's file is answered as (``GET /api/v1/office/records/<id>/files/<role>``).
FILE_CONTENT = {media_type: {"schema": {"type": "string", "format": "binary"}}
                for media_type in vocab.MEDIA_TYPES}


@bp.get("/openapi.json")
def spec() -> dict[str, Any]:
    """The OpenAPI document of this server (built once per process)."""
    if CACHE_KEY not in current_app.extensions:
        current_app.extensions[CACHE_KEY] = build_spec(current_app)
    return current_app.extensions[CACHE_KEY]


def in_json_api(path: str) -> bool:
    """Whether a route belongs to the JSON API (and so to the document)."""
    return path in PUBLIC_JSON_PATHS or path == API_PREFIX or path.startswith(API_PREFIX + "/")


def build_spec(app: Flask) -> dict[str, Any]:
    """An OpenAPI 3.1 document of every JSON API route of ``app``."""
    spec = APISpec(
        title="Jemput API", version=str(PROTOCOL_VERSION), openapi_version="3.1.0",
        plugins=[MarshmallowPlugin()],
        info={"description": "The JSON API of the Jemput office server: the device API "
                             "(deviceToken), the office API under /api/v1/office (userToken) "
                             "and the public routes. Every error is application/problem+json. "
                             "The office's HTML pages (/office/...) are not part of it."},
    )
    for name, scheme in SECURITY_SCHEMES.items():
        spec.components.security_scheme(name, scheme)
    for name, schema in COMPONENTS.items():
        spec.components.schema(name, schema=schema)
    described = {**OPERATIONS, **app.extensions.get(DESCRIBED_KEY, {})}
    for rule in sorted(app.url_map.iter_rules(), key=lambda rule: rule.rule):
        if not in_json_api(rule.rule):
            continue
        operations = described.get(rule.endpoint) or _undescribed(app, rule.endpoint,
                                                                  rule.methods)
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        spec.path(path=path, operations=_with_path_parameters(path, operations))
    return spec.to_dict()


def _with_path_parameters(path: str, operations: dict[str, Any]) -> dict[str, Any]:
    """Name every parameter of ``path`` in each operation (one operation may serve two paths,
    as tus OPTIONS does)."""
    names = re.findall(r"{([^{}]+)}", path)
    completed = {}
    for method, operation in operations.items():
        parameters = list(operation.get("parameters", []))
        named = {p.get("name") for p in parameters if isinstance(p, dict) and p.get("in") == "path"}
        parameters += [{"in": "path", "name": name, "required": True,
                        "schema": {"type": "string", "pattern": UPLOAD_PATTERN}}
                       for name in names if name not in named]
        completed[method] = {**operation, "parameters": parameters} if parameters else operation
    return completed


def _undescribed(app: Flask, endpoint: str, methods: set[str] | None) -> dict[str, Any]:
    doc = (app.view_functions[endpoint].__doc__ or endpoint).strip().splitlines()[0]
    verbs = sorted((methods or set()) - {"HEAD", "OPTIONS"})
    return {verb.lower(): {"summary": doc, UNDESCRIBED: True,
                           "responses": {"200": {"description": "OK"}}}
            for verb in verbs}
