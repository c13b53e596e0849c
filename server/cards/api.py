"""Blank-card stock, forecast and the print queue as JSON for office users (office API)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from flask import g, request
from marshmallow import RAISE, Schema, fields, validate

from server.accounts.office_auth import office_api_blueprint, user_required
from server.cards import blanko, printing, queries
from server.core.errors import InvalidInput, NotFound
from server.core.models import BlankoEntry, PrintJob
from server.core.models.blanko import RECEIVED, RETURNED, SPOILED
from server.core.serialize import jsonable
from server.http.body import json_object, load, load_query

bp = office_api_blueprint("cards_api", __name__)


class StockQuerySchema(Schema):
    """``?days=`` of expected approvals the request figure covers (default 30)."""

    class Meta:
        unknown = RAISE

    days = fields.Integer(load_default=30, validate=validate.Range(min=1, max=365))


class EntryRequestSchema(Schema):
    """A stock movement from the office: received, spoiled (damaged) or returned blanks."""

    class Meta:
        unknown = RAISE

    kind = fields.String(required=True, validate=validate.OneOf((RECEIVED, SPOILED, RETURNED)))
    quantity = fields.Integer(required=True, strict=True)
    reference = fields.String(load_default=None, allow_none=True)
    reason = fields.String(load_default=None, allow_none=True)
    entry_date = fields.Date(load_default=None, allow_none=True)


class SpoilRequestSchema(Schema):
    """Why the card came out wrong (the reprint follows at once)."""

    class Meta:
        unknown = RAISE

    reason = fields.String(required=True)


class PriorityRequestSchema(Schema):
    """Put a record first (``reason``) or take its priority away (``clear``)."""

    class Meta:
        unknown = RAISE

    reason = fields.String(load_default=None, allow_none=True)
    clear = fields.Boolean(load_default=False, truthy={True}, falsy={False})


STOCK_QUERY, ENTRY_REQUEST = StockQuerySchema(), EntryRequestSchema()
QUEUE_QUERY, SPOIL_REQUEST = queries.QueueQuery(), SpoilRequestSchema()
LEDGER_QUERY, JOBS_QUERY = queries.LedgerQuery(), queries.JobsQuery()
PRIORITY_REQUEST = PriorityRequestSchema()


@bp.get("/blanko")
@user_required
def get_stock() -> Any:
    """Balance, the forecast for ``?days=`` and usage per day of the last 14 days."""
    query = load_query(STOCK_QUERY)
    forecast = blanko.forecast(query["days"])
    return {"balance": forecast.balance, "forecast": jsonable(forecast),
            "usage": [{**jsonable(day), "total": day.total} for day in blanko.usage_per_day()]}


@bp.post("/blanko/entries")
@user_required
def add_entry() -> Any:
    """``{kind: received|spoiled|returned, quantity, reference?, reason?, entry_date?}``."""
    body = load(ENTRY_REQUEST, json_object())
    if body["kind"] == RECEIVED:
        if body["reason"] is not None:
            raise InvalidInput("Penerimaan tidak memakai 'reason'.",
                               errors={"reason": ["tidak dipakai untuk received"]})
        entry = blanko.receive(body["quantity"], body["reference"], body["entry_date"],
                               actor=g.actor)
    elif body["entry_date"] is not None:
        raise InvalidInput("Blanko keluar dicatat pada hari ini saja.",
                           errors={"entry_date": ["hanya untuk received"]})
    elif body["kind"] == SPOILED:
        entry = blanko.spoil(body["quantity"], body["reason"], actor=g.actor)
    else:
        entry = blanko.return_(body["quantity"], body["reference"], body["reason"],
                               actor=g.actor)
    return {"entry": entry_document(entry), "balance": blanko.available()}, 201


@bp.get("/blanko/summary")
@user_required
def get_summary() -> Any:
    """The daily stock summary of ``?date=YYYY-MM-DD`` (default today, WIB)."""
    return jsonable(blanko.daily_summary(summary_date()))


@bp.get("/print/queue")
@user_required
def get_queue() -> Any:
    """Records waiting for a card: priority first, then the oldest approval (keyset paged)."""
    query = load_query(QUEUE_QUERY)
    filters = printing.Filters(kecamatan=query["kecamatan"], age_min=query["age_min"],
                               age_max=query["age_max"], priority_only=query["priority"])
    found = printing.queue(filters, after=query["after"], limit=query["limit"])
    return {"total": found.total, "waiting": found.waiting, "priority": found.priority,
            "suket_issued": found.suket_issued, "next_after": found.next_after,
            "items": jsonable(found.items)}


@bp.get("/print/jobs")
@user_required
def list_jobs() -> Any:
    """Print jobs of ``?date=`` (default today), newest first (keyset paged)."""
    query = load_query(JOBS_QUERY)
    found = printing.jobs_on(query["date"], after=query["after"], limit=query["limit"])
    return {"total": found.total, "next_after": found.next_after,
            "items": jsonable(found.items)}


@bp.get("/blanko/entries")
@user_required
def list_entries() -> Any:
    """The ledger: ``?kind=&from=&to=`` filters, newest first (keyset paged), with totals."""
    query = load_query(LEDGER_QUERY)
    found = blanko.ledger(query["kind"], query["since"], query["until"], after=query["after"],
                          limit=query["limit"])
    return {"total": found.total, "quantities": found.quantities,
            "next_after": found.next_after,
            "items": [entry_document(entry) for entry in found.items]}


@bp.post("/print/<record_id>")
@user_required
def print_card(record_id: str) -> Any:
    """Print the record's card: one blank (supervisor, admin); 409 out_of_stock / not_printable."""
    job = printing.print_card(record_id, actor=g.actor)
    return {"job": job_document(job), "balance": blanko.available()}, 201


@bp.post("/print/jobs/<job_id>/spoil")
@user_required
def spoil_job(job_id: str) -> Any:
    """``{reason}``: the job was a misprint; record it and print the card again."""
    body = load(SPOIL_REQUEST, json_object())
    if not re.fullmatch(r"[0-9]{1,18}", job_id):
        raise NotFound(f"Cetakan {job_id} tidak ada.")
    job = printing.spoil_and_reprint(int(job_id), body["reason"], actor=g.actor)
    return {"job": job_document(job), "balance": blanko.available()}, 201


@bp.post("/print/<record_id>/priority")
@user_required
def set_priority(record_id: str) -> Any:
    """``{reason}`` puts the record first in the queue; ``{clear: true}`` takes it away."""
    body = load(PRIORITY_REQUEST, json_object())
    if body["clear"]:
        printing.clear_priority(record_id, actor=g.actor)
    else:
        printing.set_priority(record_id, body["reason"], actor=g.actor)
    return {"record_id": record_id, "priority": None if body["clear"] else body["reason"]}


def entry_document(entry: BlankoEntry) -> dict[str, Any]:
    """One ledger entry as JSON."""
    return {"id": entry.id, "kind": entry.kind, "quantity": entry.quantity,
            "entry_date": entry.entry_date.isoformat(), "reference": entry.reference,
            "reason": entry.reason, "print_job_id": entry.print_job_id, "actor": entry.actor}


def job_document(job: PrintJob) -> dict[str, Any]:
    """One print job as JSON."""
    return {"id": job.id, "record_id": job.enrollment_id, "state": job.state,
            "printed_at": jsonable(job.printed_at), "actor": job.actor,
            "reprint_of": job.reprint_of, "spoil_reason": job.spoil_reason}


def summary_date() -> dt.date | None:
    """``?date=`` as a date (None: today); a bad date is a 400."""
    text = request.args.get("date")
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InvalidInput("Tanggal harus YYYY-MM-DD.", errors={"date": ["bukan tanggal"]}) \
            from None
