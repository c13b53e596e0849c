"""The coverage API's query and answer, for the OpenAPI document (the view builds its answer
from ``figures.CoverageReport``; this says what it holds)."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from server.coverage import figures
from server.http import openapi


class CoverageQuerySchema(Schema):
    """``GET /coverage``."""

    at = fields.Date(metadata={"description": "The reference date (default: today, WIB)"})
    region = fields.String(metadata={
        "description": "A kabupaten, kecamatan or desa code (61.09, 61.09.04, 61.09.04.2006)"})
    trend_days = fields.Integer(validate=validate.Range(min=1, max=figures.MAX_TREND_DAYS))
    format = fields.String(validate=validate.OneOf(("json", "csv")))


class CoverageRowSchema(Schema):
    """One region: who must hold an e-KTP and who is recorded."""

    kode = fields.String(required=True)
    nama = fields.String(required=True)
    level = fields.String(required=True)
    wajib = fields.Integer(required=True)
    recorded_siak = fields.Integer(required=True)
    recorded_jemput = fields.Integer(required=True)
    jemput_by_state = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    recorded = fields.Integer(required=True)
    not_recorded = fields.Integer(required=True)
    percent = fields.Float(required=True, allow_none=True)
    turning_17 = fields.Integer(required=True)


class TrendDaySchema(Schema):
    """Jemput records received on one office day."""

    day = fields.Date(required=True)
    records = fields.Integer(required=True)


class CoverageSchema(Schema):
    """Coverage at a date under a region, with the arrivals of the last days."""

    at = fields.Date(required=True)
    region = fields.String(required=True, allow_none=True)
    computed_at = fields.DateTime(required=True, allow_none=True, metadata={
        "description": "When the stored summary the figures come from was computed; null: "
                       "counted live (a date other than today, or no summary yet)"})
    stale = fields.Boolean(required=True, metadata={
        "description": "Records or residents changed after the summary was computed (a "
                       "refresh is queued)"})
    rows = fields.List(fields.Nested(CoverageRowSchema), required=True)
    trend = fields.List(fields.Nested(TrendDaySchema), required=True)


OPERATIONS: dict[str, dict[str, Any]] = {
    "coverage_api.get_coverage": {"get": openapi.office(
        "Coverage per kabupaten, kecamatan and desa at ?at= under ?region=, with ?trend_days= "
        "of arrivals", CoverageSchema, query=CoverageQuerySchema, csv="one row per region",
        errors={404: "Unknown region"})},
}
