"""The cards office API's answers (blank cards, printing, Suket), for the OpenAPI document.

The views build their answers by hand from the services' dataclasses; these schemas say what
those answers hold. The requests and query strings are loaded with the schemas of ``api``,
``suket_api`` and ``queries``, which the document uses as they are.
"""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields

from server.cards import api, queries, suket_api
from server.http import openapi


def _int() -> fields.Integer:
    return fields.Integer(required=True)


def _nullable(field: type[fields.Field]) -> fields.Field:
    return field(required=True, allow_none=True)


class ForecastSchema(Schema):
    """When the blanks run out at the pace of the last days, and how many to request."""

    balance = _int()
    window_days = _int()
    out_per_day = fields.Float(required=True)
    days_left = _nullable(fields.Integer)
    runs_out_on = _nullable(fields.Date)
    queue = _int()
    approvals_per_day = fields.Float(required=True)
    n_days = _int()
    request = _int()


class UsageDaySchema(Schema):
    """Blanks used and spoiled on one office day."""

    day = fields.Date(required=True)
    used = _int()
    spoiled = _int()
    total = _int()


class StockSchema(Schema):
    """The balance, the forecast and the usage of the last 14 days."""

    balance = _int()
    forecast = fields.Nested(ForecastSchema, required=True)
    usage = fields.List(fields.Nested(UsageDaySchema), required=True)


class LedgerEntrySchema(Schema):
    """One movement of the blank-card ledger."""

    id = _int()
    kind = fields.String(required=True)
    quantity = _int()
    entry_date = fields.Date(required=True)
    reference = _nullable(fields.String)
    reason = _nullable(fields.String)
    print_job_id = _nullable(fields.Integer)
    actor = fields.String(required=True)


class EntryAddedSchema(Schema):
    """The entry written and the balance after it."""

    entry = fields.Nested(LedgerEntrySchema, required=True)
    balance = _int()


class LedgerPageSchema(Schema):
    """A page of the ledger, newest first, and the blanks per kind among the selected."""

    items = fields.List(fields.Nested(LedgerEntrySchema), required=True)
    next_after = _nullable(fields.String)
    total = _int()
    quantities = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)


class DailySummarySchema(Schema):
    """One office day of the stock."""

    day = fields.Date(required=True)
    opening = _int()
    received = _int()
    used = _int()
    misprinted = _int()
    spoiled = _int()
    returned = _int()
    closing = _int()
    queue = _int()
    valid_sukets = _int()


class QueueItemSchema(Schema):
    """A record waiting for its card."""

    id = fields.String(required=True)
    nik = fields.String(required=True)
    nama = fields.String(required=True)
    tanggal_lahir = fields.String(required=True)
    age = _nullable(fields.Integer)
    desa_kode = fields.String(required=True)
    desa_nama = fields.String(required=True)
    state = fields.String(required=True)
    approved_at = fields.String(required=True)
    priority = _nullable(fields.String)


class PrintQueueSchema(Schema):
    """A page of the print queue and its counts."""

    items = fields.List(fields.Nested(QueueItemSchema), required=True)
    next_after = _nullable(fields.String)
    total = _int()
    waiting = _int()
    priority = _int()
    suket_issued = _int()


class JobRowSchema(Schema):
    """A print job of the day, with whose card it was."""

    id = _int()
    enrollment_id = fields.String(required=True)
    nik = fields.String(required=True)
    nama = fields.String(required=True)
    state = fields.String(required=True)
    printed_at = _nullable(fields.String)
    actor = fields.String(required=True)
    reprint_of = _nullable(fields.Integer)
    spoil_reason = _nullable(fields.String)


class JobPageSchema(Schema):
    """A page of an office day's print jobs, newest first."""

    items = fields.List(fields.Nested(JobRowSchema), required=True)
    next_after = _nullable(fields.String)
    total = _int()


class PrintJobSchema(Schema):
    """One print job."""

    id = _int()
    record_id = fields.String(required=True)
    state = fields.String(required=True)
    printed_at = _nullable(fields.String)
    actor = fields.String(required=True)
    reprint_of = _nullable(fields.Integer)
    spoil_reason = _nullable(fields.String)


class PrintedSchema(Schema):
    """The job printed and the balance after it."""

    job = fields.Nested(PrintJobSchema, required=True)
    balance = _int()


class PrioritySchema(Schema):
    """The record's priority now (null: none)."""

    record_id = fields.String(required=True)
    priority = _nullable(fields.String)


class SuketSchema(Schema):
    """A Surat Keterangan, with the URL its QR code points to."""

    id = _int()
    number = fields.String(required=True)
    enrollment_id = fields.String(required=True)
    nik = fields.String(required=True)
    nama = fields.String(required=True)
    desa_kode = fields.String(required=True)
    desa_nama = fields.String(required=True)
    record_state = fields.String(required=True)
    state = fields.String(required=True)
    status = fields.String(required=True)
    issued_on = fields.Date(required=True)
    expires_on = fields.Date(required=True)
    days_left = _int()
    renewals = _int()
    issued_by = fields.String(required=True)
    superseded_at = _nullable(fields.String)
    print_job_id = _nullable(fields.Integer)
    waiting = fields.Boolean(required=True)
    verify_url = fields.String(required=True)


class OneSuketSchema(Schema):
    """One Suket."""

    suket = fields.Nested(SuketSchema, required=True)


class SuketPageSchema(Schema):
    """A page of Sukets of one status, counts per status, and the blanks in stock."""

    status = fields.String(required=True)
    counts = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    total = _int()
    next_after = _nullable(fields.String)
    blanko_available = _int()
    items = fields.List(fields.Nested(SuketSchema), required=True)


class VerificationSchema(Schema):
    """What anyone holding a Suket's QR code may learn: minimal, the name masked."""

    status = fields.String(required=True, metadata={
        "description": "valid, expired or superseded (by a printed card)"})
    number = fields.String(required=True)
    nama = fields.String(required=True, metadata={"description": "Masked"})
    nik_last4 = fields.String(required=True)
    issued_on = fields.Date(required=True)
    expires_on = fields.Date(required=True)
    superseded_on = _nullable(fields.Date)


RECORD_ID = openapi.path_parameter("record_id", openapi.UUID_PATTERN, "The record's id (a UUID)")
JOB_ID = openapi.path_parameter("job_id", openapi.NUMBER_PATTERN, "The print job's number")
SUKET_ID = openapi.path_parameter("suket_id", openapi.NUMBER_PATTERN, "The Suket's number")
NOT_PRINTABLE = "The record is not waiting for a card (`not_printable`)"

HTML_PAGE = {"schema": {"type": "string"}}

OPERATIONS: dict[str, dict[str, Any]] = {
    "verify.verify": {"get": {
        "summary": "Check a Suket from its QR code (no login): valid, expired or superseded",
        "description": "JSON with Accept: application/json, else the HTML page a phone shows. "
                       "Any token this office did not issue is the same 404.",
        "security": openapi.PUBLIC, "tags": ["public"],
        "parameters": [openapi.path_parameter(
            "token", r"^[1-9][0-9]{0,17}\.[A-Za-z0-9_-]{24}$",
            "The token of the QR code (anything else is the same 404)")],
        "responses": {
            "200": {"description": "What the Suket says today",
                    "content": {"application/json": {"schema": VerificationSchema},
                                "text/html": HTML_PAGE}},
            "404": {"description": "Unknown token (forged, altered or not issued here)",
                    "content": {openapi.PROBLEM_MEDIA_TYPE: {"schema": "Problem"},
                                "text/html": HTML_PAGE}}}}},
    "cards_api.get_stock": {"get": openapi.office(
        "Balance, the forecast for ?days= and usage per day of the last 14 days", StockSchema,
        query=api.StockQuerySchema)},
    "cards_api.add_entry": {"post": openapi.office(
        "Record blanks received, spoiled (damaged) or returned (roles as in the guide)",
        EntryAddedSchema, status=201, body=api.EntryRequestSchema, writes=True,
        errors={409: "Not that many blanks in stock (`not_enough_stock`)"})},
    "cards_api.list_entries": {"get": openapi.office(
        "The ledger, newest first (keyset paged), with blanks per kind", LedgerPageSchema,
        query=queries.LedgerQuery)},
    "cards_api.get_summary": {"get": openapi.office(
        "The daily stock summary of ?date= (default today, WIB; not in the future)",
        DailySummarySchema, query=[{"in": "query", "name": "date", "required": False,
                                    "schema": {"type": "string", "format": "date"}}])},
    "cards_api.get_queue": {"get": openapi.office(
        "Records waiting for a card: priority first, then the oldest approval (keyset paged)",
        PrintQueueSchema, query=queries.QueueQuery)},
    "cards_api.list_jobs": {"get": openapi.office(
        "Print jobs of ?date= (default today), newest first (keyset paged)", JobPageSchema,
        query=queries.JobsQuery)},
    "cards_api.print_card": {"post": openapi.office(
        "Print the record's card: one blank (supervisor, admin)", PrintedSchema, status=201,
        path=[RECORD_ID], writes=True,
        errors={404: "No such record",
                409: f"No blank in stock (`out_of_stock`), or {NOT_PRINTABLE}"})},
    "cards_api.spoil_job": {"post": openapi.office(
        "The job was a misprint: record it and print the card again (supervisor, admin)",
        PrintedSchema, status=201, path=[JOB_ID], body=api.SpoilRequestSchema, writes=True,
        errors={404: "No such print job",
                409: "Already recorded as spoiled (`already_spoiled`), no blank in stock "
                     f"(`out_of_stock`), or {NOT_PRINTABLE}"})},
    "cards_api.set_priority": {"post": openapi.office(
        "Put the record first in the print queue ({reason}) or take that away ({clear: true}; "
        "supervisor, admin)", PrioritySchema, path=[RECORD_ID],
        body=api.PriorityRequestSchema, writes=True,
        errors={404: "No such record, or no priority to clear", 409: NOT_PRINTABLE})},
    "suket_api.list_sukets": {"get": openapi.office(
        "Sukets by status (default: holders who must come back for a card), counts, stock",
        SuketPageSchema, query=suket_api.ListQuerySchema)},
    "suket_api.issue_suket": {"post": openapi.office(
        "Issue a Suket for an approved record (supervisor, admin)", OneSuketSchema,
        status=201, body=suket_api.IssueRequestSchema, writes=True,
        errors={404: "No such record",
                409: "Not eligible (`not_eligible`), blanks in stock and not on request "
                     "(`blanko_available`), or a valid Suket already (`suket_exists`)"})},
    "suket_api.get_suket": {"get": openapi.office(
        "One Suket", OneSuketSchema, path=[SUKET_ID], errors={404: "No such Suket"})},
    "suket_api.renew_suket": {"post": openapi.office(
        "Six more months while no blank is in stock (supervisor, admin)", OneSuketSchema,
        path=[SUKET_ID], writes=True,
        errors={404: "No such Suket",
                409: "Replaced by a card (`suket_superseded`), blanks in stock "
                     "(`blanko_available`) or not due yet (`renewal_not_due`)"})},
}
