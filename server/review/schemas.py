"""The review API's requests and answers, for the OpenAPI document.

The views build their answers from the services' dataclasses and dictionaries; these schemas
say what those answers hold (``server/http/openapi.py`` renders them). Unknown properties are
allowed in answers (a new field is not a breaking change) and ignored in requests.
"""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from server.http import openapi
from server.review.decisions import CASE_ACTIONS, RECORD_ACTIONS
from server.review.queue import KINDS, MAX_PAGE_SIZE
from shared import vocab


def _nullable_string() -> fields.String:
    return fields.String(required=True, allow_none=True)


def _nullable_time() -> fields.String:
    return fields.String(required=True, allow_none=True,
                         metadata={"description": "ISO 8601, UTC"})


# -- requests --------------------------------------------------------------------------------


class ResolveRequestSchema(Schema):
    """``POST /cases/<id>/resolve``: resolve the case as it was seen at ``version``."""

    action = fields.String(required=True, validate=validate.OneOf(tuple(CASE_ACTIONS)))
    version = fields.Integer(required=True, metadata={
        "description": "The case's version as read; another one is a 409"})
    reason = fields.String(allow_none=True, load_default=None,
                           metadata={"description": "Required for reject, needs_fix"})
    duplicate_id = fields.String(allow_none=True, load_default=None, metadata={
        "description": "For action duplicate only: the record that is the duplicate"})


class DecideRequestSchema(Schema):
    """``POST /records/<id>/decide``: approve, reject or send back one record."""

    action = fields.String(required=True, validate=validate.OneOf(tuple(RECORD_ACTIONS)))
    reason = fields.String(allow_none=True, load_default=None,
                           metadata={"description": "Required for reject, needs_fix"})


class BulkApproveRequestSchema(Schema):
    """``POST /records/bulk-approve``: exactly one of the two codes."""

    desa_kode = fields.String(allow_none=True, load_default=None)
    kecamatan_kode = fields.String(allow_none=True, load_default=None)


class _ListQuery(Schema):
    kecamatan = fields.String(metadata={"description": "Kecamatan code, e.g. 61.09.04"})
    desa = fields.String(metadata={"description": "Desa code, e.g. 61.09.04.2006"})
    team = fields.String()
    after = fields.String(metadata={"description": "next_after of the page before"})
    limit = fields.Integer(validate=validate.Range(min=1, max=MAX_PAGE_SIZE))
    format = fields.String(validate=validate.OneOf(("json", "csv")),
                           metadata={"description": "csv: the whole list as a CSV download"})


class CaseListQuerySchema(_ListQuery):
    """``GET /cases``: open cases by default; filters."""

    kind = fields.String(validate=validate.OneOf(KINDS))
    state = fields.String(metadata={"description": "open (the default) or resolved"})


class RecordListQuerySchema(_ListQuery):
    """``GET /records``: records by state and area."""

    state = fields.String()


# -- answers ---------------------------------------------------------------------------------


class DeviceRowSchema(Schema):
    id = fields.String(required=True)
    name = fields.String(required=True)
    team = fields.String(required=True)
    kecamatan_kode = _nullable_string()
    last_seen_at = _nullable_time()
    last_seq = fields.Integer(required=True)
    received_count = fields.Integer(required=True)
    pending = fields.Integer(required=True)
    gaps = fields.Integer(required=True)
    revoked = fields.Boolean(required=True)


class GapRowSchema(Schema):
    case_id = fields.Integer(required=True)
    device_id = _nullable_string()
    team = _nullable_string()
    explanation = fields.String(required=True)
    opened_at = fields.String(required=True)


class DashboardSchema(Schema):
    """The dashboard's figures."""

    received_today = fields.Integer(required=True)
    received_week = fields.Integer(required=True)
    by_state = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    open_by_kind = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    open_total = fields.Integer(required=True)
    open_case_records = fields.Integer(required=True)
    devices = fields.List(fields.Nested(DeviceRowSchema), required=True)
    gaps = fields.List(fields.Nested(GapRowSchema), required=True)


class CaseSchema(Schema):
    """One case as listed."""

    id = fields.Integer(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    state = fields.String(required=True)
    version = fields.Integer(required=True)
    explanation = fields.String(required=True)
    opened_at = fields.String(required=True)
    resolution = _nullable_string()
    resolved_at = _nullable_time()
    resolved_by = _nullable_string()
    team = _nullable_string()
    device_id = _nullable_string()
    desa_kode = _nullable_string()
    desa_nama = _nullable_string()


class CaseDetailSchema(CaseSchema):
    """One case with the reason it was resolved with."""

    resolution_reason = _nullable_string()


class CasePageSchema(Schema):
    """A page of cases."""

    items = fields.List(fields.Nested(CaseSchema), required=True)
    next_after = _nullable_string()
    total = fields.Integer(required=True, allow_none=True)


class CaseRecordSchema(Schema):
    """A record named by a case."""

    id = fields.String(required=True)
    state = fields.String(required=True)
    state_reason = _nullable_string()
    device_id = fields.String(required=True)
    device_name = _nullable_string()
    team = _nullable_string()
    seq = fields.Integer(required=True)
    operator = fields.String(required=True)
    captured_at = fields.String(required=True)
    received_at = fields.String(required=True)
    supersedes = _nullable_string()
    roles = fields.List(fields.String(), required=True)
    payload = fields.Dict(required=True)


class CaseViewSchema(Schema):
    """A case, its records, and the card fields on which they differ."""

    case = fields.Nested(CaseDetailSchema, required=True)
    records = fields.List(fields.Nested(CaseRecordSchema), required=True)
    differing = fields.List(fields.String(), required=True)


class ResolvedCaseSchema(Schema):
    """The case after the decision."""

    case = fields.Nested(CaseDetailSchema, required=True)


class RecordRowSchema(Schema):
    """One record as listed."""

    id = fields.String(required=True)
    nik = fields.String(required=True)
    nama = _nullable_string()
    state = fields.String(required=True)
    state_reason = _nullable_string()
    desa_kode = fields.String(required=True)
    desa_nama = _nullable_string()
    team = _nullable_string()
    device_id = fields.String(required=True)
    seq = fields.Integer(required=True)
    captured_at = fields.String(required=True)
    received_at = fields.String(required=True)


class RecordPageSchema(Schema):
    """A page of records."""

    items = fields.List(fields.Nested(RecordRowSchema), required=True)
    next_after = _nullable_string()
    total = fields.Integer(required=True, allow_none=True)


class OfficeRecordSchema(Schema):
    """A record as the office sees it (its card data in ``payload``)."""

    id = fields.String(required=True)
    nik = fields.String(required=True)
    nama = _nullable_string()
    state = fields.String(required=True)
    state_reason = _nullable_string()
    device_id = fields.String(required=True)
    device_name = _nullable_string()
    team = _nullable_string()
    seq = fields.Integer(required=True)
    operator = fields.String(required=True)
    captured_at = fields.String(required=True)
    received_at = fields.String(required=True)
    state_changed_at = _nullable_time()
    desa_kode = fields.String(required=True)
    desa_nama = _nullable_string()
    supersedes = _nullable_string()
    exceptions = fields.List(fields.Dict(), required=True, allow_none=True)
    warnings = fields.List(fields.Dict(), required=True, allow_none=True)
    payload = fields.Dict(required=True)


class FieldRowSchema(Schema):
    """One card field beside the registry's value."""

    name = fields.String(required=True)
    recorded = fields.String(required=True, allow_none=True)
    registry = _nullable_string()
    differs = fields.Boolean(required=True)


class FileRowSchema(Schema):
    """One biometric file of the record."""

    role = fields.String(required=True, validate=validate.OneOf(vocab.BIOMETRIC_ROLES))
    sha256 = fields.String(required=True)
    size = fields.Integer(required=True)
    media_type = fields.String(required=True)
    stored = fields.Boolean(required=True)
    image = fields.Boolean(required=True)


class VersionRowSchema(Schema):
    """One version of the record (the chain of supersedes)."""

    id = fields.String(required=True)
    state = fields.String(required=True)
    received_at = fields.String(required=True)
    current = fields.Boolean(required=True)


class RecordCaseRowSchema(Schema):
    """A case naming the record."""

    id = fields.Integer(required=True)
    kind = fields.String(required=True)
    state = fields.String(required=True)
    resolution = _nullable_string()
    explanation = fields.String(required=True)


class AuditRowSchema(Schema):
    """One event of the audit chain about the record."""

    id = fields.Integer(required=True)
    at = fields.String(required=True)
    actor = fields.String(required=True)
    action = fields.String(required=True)
    case_id = fields.Integer(required=True, allow_none=True)
    from_state = _nullable_string()
    to_state = _nullable_string()
    reason = _nullable_string()
    detail = fields.Dict(required=True, allow_none=True)


class RecordViewSchema(Schema):
    """The record page as JSON."""

    record = fields.Nested(OfficeRecordSchema, required=True)
    fields_ = fields.List(fields.Nested(FieldRowSchema), required=True, data_key="fields")
    in_registry = fields.Boolean(required=True)
    attachments = fields.List(fields.Nested(FileRowSchema), required=True)
    versions = fields.List(fields.Nested(VersionRowSchema), required=True)
    cases = fields.List(fields.Nested(RecordCaseRowSchema), required=True)
    audit = fields.List(fields.Nested(AuditRowSchema), required=True)


class DecidedRecordSchema(Schema):
    """The record after the decision."""

    record = fields.Nested(OfficeRecordSchema, required=True)


class BulkApprovedSchema(Schema):
    """How many records were approved."""

    approved = fields.Integer(required=True)


# -- the operations --------------------------------------------------------------------------

CASE_ID = openapi.path_parameter("case_id", openapi.NUMBER_PATTERN, "The case's number")
RECORD_ID = openapi.path_parameter("record_id", openapi.UUID_PATTERN, "The record's id (a UUID)")
ROLE = {"in": "path", "name": "role", "required": True,
        "schema": {"type": "string", "enum": list(vocab.BIOMETRIC_ROLES)}}
CSV_COLUMNS = "one row per item"

OPERATIONS: dict[str, dict[str, Any]] = {
    "review_api.get_dashboard": {"get": openapi.office(
        "The dashboard's figures: arrivals, records by state, open cases by kind, devices",
        DashboardSchema)},
    "review_api.list_cases": {"get": openapi.office(
        "Cases (open by default), keyset paged; ?format=csv for all of them",
        CasePageSchema, query=CaseListQuerySchema, csv=CSV_COLUMNS)},
    "review_api.get_case": {"get": openapi.office(
        "One case and its records", CaseViewSchema, path=[CASE_ID],
        errors={404: "No such case"})},
    "review_api.resolve_case": {"post": openapi.office(
        "Resolve the case seen at version (reviewer, supervisor, admin)", ResolvedCaseSchema,
        path=[CASE_ID], body=ResolveRequestSchema, writes=True,
        errors={404: "No such case",
                409: "The case changed or was resolved since it was read (`conflict`); "
                     "nothing is written"})},
    "review_api.list_records": {"get": openapi.office(
        "Records by state and area, keyset paged; ?format=csv for all of them",
        RecordPageSchema, query=RecordListQuerySchema, csv=CSV_COLUMNS)},
    "review_api.bulk_approve": {"post": openapi.office(
        "Approve every verified record of one desa or kecamatan (supervisor, admin)",
        BulkApprovedSchema, body=BulkApproveRequestSchema, writes=True,
        errors={404: "Unknown desa or kecamatan code"})},
    "review_api.get_record": {"get": openapi.office(
        "One record with the registry beside it, its files, versions, cases and audit trail",
        RecordViewSchema, path=[RECORD_ID], errors={404: "No such record"})},
    "review_api.decide_record": {"post": openapi.office(
        "Approve, reject or send back one record (reviewer, supervisor, admin)",
        DecidedRecordSchema, path=[RECORD_ID], body=DecideRequestSchema, writes=True,
        errors={404: "No such record",
                409: "The record is not in a state to decide, has open cases, or just "
                     "changed (`conflict`)"})},
    "review_api.record_file": {"get": openapi.office(
        "One biometric file of a record, as stored (never cached)", None,
        path=[RECORD_ID, ROLE], ok_content=openapi.FILE_CONTENT,
        errors={404: "No such record, no such file, or its bytes have not arrived"})},
}
