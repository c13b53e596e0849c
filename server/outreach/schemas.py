"""The outreach office API's queries and answers, for the OpenAPI document (the views build
their answers from ``report.VisitInfo``, ``RankedDesa`` and ``VisitProgress``; the requests are
loaded with ``visits.VisitRequestSchema`` and ``api.CloseRequestSchema``)."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from server.core.models.outreach import VISIT_STATES
from server.http import openapi
from server.outreach.api import CloseRequestSchema
from server.outreach.visits import VisitRequestSchema


class RankingQuerySchema(Schema):
    """``GET /outreach/ranking``."""

    at = fields.Date(metadata={"description": "The reference date (default: today, WIB)"})
    kecamatan = fields.String(metadata={"description": "Only the desa of this kecamatan"})


class VisitListQuerySchema(Schema):
    """``GET /outreach/visits``."""

    state = fields.String(validate=validate.OneOf(VISIT_STATES))
    desa = fields.String(metadata={"description": "Only the visits of this desa code"})


class OfficeVisitSchema(Schema):
    """A visit as the office sees it."""

    id = fields.String(required=True)
    desa_kode = fields.String(required=True)
    desa_nama = fields.String(required=True)
    kecamatan_kode = fields.String(required=True)
    kecamatan_nama = fields.String(required=True)
    visit_date = fields.Date(required=True)
    ends_on = fields.Date(required=True)
    days = fields.Integer(required=True)
    team = fields.String(required=True)
    device_id = fields.String(required=True)
    device_name = fields.String(required=True)
    state = fields.String(required=True, validate=validate.OneOf(VISIT_STATES))
    target_count = fields.Integer(required=True)
    created_by = fields.String(required=True)
    created_at = fields.String(required=True)
    closed_at = fields.String(required=True, allow_none=True)


class RankedDesaSchema(Schema):
    """One desa of the ranking."""

    desa_kode = fields.String(required=True)
    desa_nama = fields.String(required=True)
    kecamatan_kode = fields.String(required=True)
    kecamatan_nama = fields.String(required=True)
    not_recorded = fields.Integer(required=True)
    last_visit = fields.Date(required=True, allow_none=True)
    days_since_last_visit = fields.Integer(required=True, allow_none=True)
    planned_visit = fields.Nested(OfficeVisitSchema, required=True, allow_none=True)


class RankingSchema(Schema):
    """The desa ranked for the next visit."""

    at = fields.Date(required=True)
    kecamatan = fields.String(required=True, allow_none=True)
    desa = fields.List(fields.Nested(RankedDesaSchema), required=True)


class VisitListSchema(Schema):
    """Visits by date."""

    visits = fields.List(fields.Nested(OfficeVisitSchema), required=True)


class OneVisitSchema(Schema):
    """The visit planned, closed or cancelled."""

    visit = fields.Nested(OfficeVisitSchema, required=True)


class VisitTargetSchema(Schema):
    """One resident of the visit's target list, and whether they are recorded by now."""

    nik = fields.String(required=True)
    nama = fields.String(required=True)
    tanggal_lahir = fields.Date(allow_none=True)
    jenis_kelamin = fields.String(allow_none=True)
    alamat = fields.String(allow_none=True)
    rt = fields.String(allow_none=True)
    rw = fields.String(allow_none=True)
    done = fields.Boolean(required=True)


class VisitProgressSchema(Schema):
    """A visit against its target list."""

    visit = fields.Nested(OfficeVisitSchema, required=True)
    done = fields.Integer(required=True)
    records = fields.Integer(required=True)
    percent = fields.Float(required=True, allow_none=True)
    targets = fields.List(fields.Nested(VisitTargetSchema), required=True)


VISIT_ID = openapi.path_parameter("visit_id", openapi.VISIT_PATTERN, "The visit's id")

OPERATIONS: dict[str, dict[str, Any]] = {
    "outreach_api.get_ranking": {"get": openapi.office(
        "Desa ranked for the next visit at ?at= under ?kecamatan=", RankingSchema,
        query=RankingQuerySchema, errors={404: "Unknown kecamatan"})},
    "outreach_api.list_visits": {"get": openapi.office(
        "Visits by date, optionally of one state and one desa", VisitListSchema,
        query=VisitListQuerySchema)},
    "outreach_api.create_visit": {"post": openapi.office(
        "Plan a visit and snapshot its target list (supervisor, admin)", OneVisitSchema,
        status=201, body=VisitRequestSchema, writes=True,
        errors={409: "The desa has a visit planned on those days (`conflict`)"},
        description="An unknown desa or device, a revoked device or a past date is a 400.")},
    "outreach_api.get_visit": {"get": openapi.office(
        "One visit with its progress and its target list (done or not yet)",
        VisitProgressSchema, path=[VISIT_ID], errors={404: "No such visit"})},
    "outreach_api.close_visit": {"post": openapi.office(
        "Close the visit, or cancel it (supervisor, admin)", OneVisitSchema, path=[VISIT_ID],
        body=CloseRequestSchema, writes=True,
        errors={404: "No such visit", 409: "Already closed or cancelled (`conflict`)"})},
}
