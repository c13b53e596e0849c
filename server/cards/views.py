"""Office pages for blank cards and printing: stock, forecast, print queue."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from server.accounts.office_auth import current_actor, login_required, office_blueprint
from server.cards import blanko, printing, queries
from server.core.errors import InvalidInput, NotFound
from server.core.serialize import jsonable
from server.http.body import load_query
from server.http.present import csv_response
from shared.labels import BLANKO_KIND_LABELS

bp = office_blueprint("cards", __name__)

CHART_W, CHART_H, CHART_BAR = 560, 160, 40
QUEUE_ARGS = ("kecamatan", "age_min", "age_max", "priority", "after", "limit")
LEDGER_FILTERS = ("kind", "from", "to")
SUMMARY_COLUMNS = ("day", "opening", "received", "used", "misprinted", "spoiled", "returned",
                   "closing", "queue", "valid_sukets")


def _can_manage() -> bool:
    return current_actor().role in blanko.STOCK_KEEPERS


def _int(text: str | None, label: str, *, default: int | None = None) -> int | None:
    """A whole number from a form or query field (blank: ``default``); else a clear 400."""
    text = (text or "").strip()
    if not text:
        return default
    if not re.fullmatch(r"-?[0-9]{1,12}", text):  # not isdigit(): "²" is a digit to it
        raise InvalidInput(f"{label} harus bilangan bulat.")
    return int(text)


def _date(text: str | None) -> dt.date | None:
    text = (text or "").strip()
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"Tanggal '{text[:20]}' tidak valid (TTTT-BB-HH).") from None


@bp.get("/blanko")
@login_required
def blanko_page() -> str:
    """Stock tile, forecast, usage chart, receive and spoil/return forms, the ledger."""
    days = _int(request.args.get("days"), "Jumlah hari", default=30)
    args = {key: value for key, value in request.args.items() if key != "days"}
    query = load_query(queries.LedgerQuery(), args)
    forecast = blanko.forecast(days)
    usage = blanko.usage_per_day()
    entries = blanko.ledger(query["kind"], query["since"], query["until"], after=query["after"],
                            limit=query["limit"])
    return render_template("cards/blanko.html", forecast=forecast, usage=usage,
                           chart=_chart(usage), ledger=entries, query=query,
                           filters={key: args[key] for key in LEDGER_FILTERS if args.get(key)},
                           can_manage=_can_manage(), today=blanko.office_today())


def _chart(usage: list[blanko.DayUsage]) -> dict[str, Any]:
    """Bar geometry of the usage chart (inline SVG): used and spoiled stacked per day."""
    top = max([day.total for day in usage] + [1])
    scale = (CHART_H - 30) / top
    bars = []
    for index, day in enumerate(usage):
        used_h, spoiled_h = day.used * scale, day.spoiled * scale
        x = index * CHART_BAR + 4
        bars.append({"x": x, "day": day, "used_y": CHART_H - 18 - used_h, "used_h": used_h,
                     "spoiled_y": CHART_H - 18 - used_h - spoiled_h, "spoiled_h": spoiled_h,
                     "label_y": CHART_H - 22 - used_h - spoiled_h})
    return {"width": CHART_BAR * len(usage) + 8, "height": CHART_H, "top": top, "bars": bars,
            "bar": CHART_BAR - 8}


@bp.post("/blanko/entries")
@login_required
def blanko_entry() -> Response:
    """Book a receipt, a spoil or a return from the forms."""
    kind = request.form.get("kind", "")
    quantity = _int(request.form.get("quantity"), "Jumlah blanko")
    reference = request.form.get("reference") or None
    reason = request.form.get("reason") or None
    if kind == "received":
        entry = blanko.receive(quantity, reference, _date(request.form.get("entry_date")),
                               actor=current_actor())
    elif kind == "spoiled":
        entry = blanko.spoil(quantity, reason, actor=current_actor())
    elif kind == "returned":
        entry = blanko.return_(quantity, reference, reason, actor=current_actor())
    else:
        raise InvalidInput("Pilih jenis catatan: diterima, rusak atau dikembalikan.")
    flash(f"Dicatat: {entry.quantity} blanko {BLANKO_KIND_LABELS[entry.kind]}. "
          f"Saldo sekarang {blanko.available()}.", "success")
    return redirect(url_for("cards.blanko_page"))


@bp.get("/blanko/summary")
@login_required
def blanko_summary() -> Any:
    """The daily stock summary: a printable page, ``?format=csv`` or ``?format=json``."""
    summary = blanko.daily_summary(_date(request.args.get("date")))
    shape = request.args.get("format", "html")
    if shape == "json":
        return jsonable(summary)
    if shape == "csv":
        return csv_response([jsonable(summary)], SUMMARY_COLUMNS,
                            f"blanko-{summary.day.isoformat()}.csv")
    if shape != "html":
        raise InvalidInput("Format harus html, csv atau json.")
    return render_template("cards/blanko_summary.html", s=summary)


@bp.get("/print")
@login_required
def print_page() -> str:
    """The queue (filters kecamatan and age, priority), print buttons, today's prints."""
    args = request.args
    queue_args = {key: args[key] for key in QUEUE_ARGS if args.get(key)}
    query = load_query(queries.QueueQuery(), queue_args)
    filters = printing.Filters(kecamatan=query["kecamatan"], age_min=query["age_min"],
                               age_max=query["age_max"], priority_only=query["priority"])
    found = printing.queue(filters, after=query["after"], limit=query["limit"])
    jobs = printing.jobs_on(after=load_query(queries.JobsQuery(), {
        "after": args.get("dicetak_setelah", "")})["after"])
    return render_template("cards/print.html", found=found, filters=filters, jobs=jobs,
                           kecamatan=printing.kecamatan_choices(),
                           stock=blanko.available(), can_manage=_can_manage(),
                           back={key: value for key, value in queue_args.items()
                                 if key != "after"},
                           at=query["after"])


def _back() -> Response:
    """To the queue with the filters the form came from."""
    keep: dict[str, Any] = {key: request.form[key] for key in QUEUE_ARGS
                            if request.form.get(key)}
    return redirect(url_for("cards.print_page", **keep))


@bp.post("/print/<record_id>")
@login_required
def print_record(record_id: str) -> Response:
    """Print one card from the queue."""
    job = printing.print_card(record_id, actor=current_actor())
    flash(f"KTP-el dicetak (cetakan {job.id}). Sisa blanko {blanko.available()}.", "success")
    return _back()


@bp.post("/print/<record_id>/priority")
@login_required
def print_priority(record_id: str) -> Response:
    """Give the record priority (with a reason) or take it away (``clear=1``)."""
    if request.form.get("clear") == "1":
        printing.clear_priority(record_id, actor=current_actor())
        flash("Prioritas dihapus.", "success")
    else:
        printing.set_priority(record_id, request.form.get("reason"), actor=current_actor())
        flash("Rekaman diprioritaskan.", "success")
    return _back()


@bp.post("/print/jobs/<job_id>/spoil")
@login_required
def print_spoil(job_id: str) -> Response:
    """A misprint: record it (with the reason) and print the card again."""
    if not re.fullmatch(r"[0-9]{1,18}", job_id):
        raise NotFound(f"Cetakan {job_id[:20]} tidak ada.")
    job = printing.spoil_and_reprint(int(job_id), request.form.get("reason"),
                                     actor=current_actor())
    flash(f"Salah cetak dicatat; dicetak ulang (cetakan {job.id}). Sisa blanko "
          f"{blanko.available()}.", "success")
    return _back()
