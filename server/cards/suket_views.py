"""Office pages for the Suket: issue, renew, reprint, valid and expiring."""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from server.accounts.office_auth import current_actor, login_required, office_blueprint
from server.cards import suket, suket_pdf
from server.core.errors import InvalidInput
from shared.labels import SUKET_STATUS_LABELS

bp = office_blueprint("suket", __name__)

PAGE_SIZE = 200
STATUS_TABS = tuple((key, SUKET_STATUS_LABELS[key].capitalize())
                    for key in ("waiting", "valid", "expiring", "expired", "superseded", "all"))
MAX_RECORD_ID = 36


def _can_issue() -> bool:
    return current_actor().role in suket.ISSUERS


@bp.get("/suket")
@login_required
def suket_page() -> str:
    """Sukets by status (holders who must come back for a card first), the issue form."""
    status = request.args.get("status") or "waiting"
    if status not in suket.STATUSES:
        raise InvalidInput(f"Status '{status}' tidak dikenal.")
    query = request.args.get("q", "")[:64]
    after = request.args.get("after") or None
    found = suket.listing(status, query=query, after=after, limit=PAGE_SIZE)
    return render_template("cards/suket.html", found=found, tabs=STATUS_TABS, q=query,
                           after=after, stock=suket.available(), can_issue=_can_issue(),
                           record_id=request.args.get("record", ""), today=suket.office_today())


@bp.post("/suket")
@login_required
def suket_issue() -> Response:
    """Issue a Suket for the record id of the form; its PDF is one click away."""
    record_id = (request.form.get("record_id") or "").strip()
    if not record_id or len(record_id) > MAX_RECORD_ID:
        raise InvalidInput("Isi NIK atau ID rekaman yang disetujui.")
    info = suket.issue(suket.record_of(record_id), current_actor(),
                       on_request=request.form.get("on_request") == "1")
    flash(f"Suket {info.number} diterbitkan untuk {info.nama}, berlaku s/d "
          f"{info.expires_on:%d-%m-%Y}. Unduh PDF-nya untuk dicetak dan ditandatangani.",
          "success")
    return redirect(url_for("suket.suket_page", status="all", q=info.number))


@bp.post("/suket/<suket_id>/renew")
@login_required
def suket_renew(suket_id: str) -> Response:
    """Renew a Suket for six more months."""
    info = suket.renew(suket.parse_id(suket_id), current_actor())
    flash(f"Suket {info.number} diperpanjang s/d {info.expires_on:%d-%m-%Y}; cetak ulang "
          "PDF-nya.", "success")
    return redirect(url_for("suket.suket_page", status="all", q=info.number))


@bp.get("/suket/<suket_id>.pdf")
@login_required
def suket_pdf_file(suket_id: str) -> Response:
    """The Suket as an A4 PDF to print and sign (again: a reprint is the same document)."""
    base = current_app.config.get("JEMPUT_PUBLIC_URL") or request.host_url
    number = suket.parse_id(suket_id)
    data = suket_pdf.render(number, base, signer=current_app.config.get("JEMPUT_SUKET_SIGNER"))
    response = Response(data, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'inline; filename="suket-{number}.pdf"'
    response.headers["Cache-Control"] = "private, no-store"
    return response
