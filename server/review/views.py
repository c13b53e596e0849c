"""The office pages: dashboard, review queue, case, records list, record, files, exports."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from server.accounts.office_auth import current_actor, login_required, office_blueprint
from server.core.errors import InvalidInput
from server.http.present import file_response
from server.review import background, decisions, listing, queue, record_view
from server.review import dashboard as dashboard_service

bp = office_blueprint("review", __name__)

RESOLVED_TEXT = {"approve": "disetujui", "reject": "ditolak", "duplicate": "ditandai duplikat",
                 "needs_fix": "dikembalikan untuk perbaikan", "acknowledge": "dicatat"}


def _about_reason(refused: InvalidInput) -> bool:
    """A refusal of the reason field: shown beside the field, the rest of the page as it was."""
    return bool(refused.errors) and "reason" in (refused.errors or {})


def _form_text(name: str) -> str | None:
    value = request.form.get(name, "").strip()
    return value or None


@bp.get("/")
@login_required
def dashboard() -> str:
    """Arrivals, open cases by kind, devices and gaps."""
    return render_template("review/dashboard.html", data=dashboard_service.dashboard())


@bp.get("/cases.csv")
@login_required
def cases_csv() -> Response:
    """The filtered review queue as CSV."""
    return listing.cases_csv(request.args)


@bp.get("/cases")
@login_required
def cases() -> Any:
    """The review queue (open cases by default), filtered; CSV with ``?format=csv``."""
    if listing.wants_csv(request.args):
        return listing.cases_csv(request.args)
    filters, page = listing.case_page(request.args)
    return render_template("review/queue.html", page=page, filters=filters, kinds=queue.KINDS)


@bp.get("/cases/<case_id>")
@login_required
def case(case_id: str) -> str:
    """One case, its records side by side, and the forms to resolve it."""
    return render_template("review/case.html", view=queue.case_view(queue.case_number(case_id)),
                           card_fields=record_view.FIELDS)


@bp.post("/cases/<case_id>/resolve")
@login_required
def resolve(case_id: str) -> Any:
    """Resolve a case as the form says; a stale version is a 409 page, nothing changed."""
    action = request.form.get("action", "")
    try:
        decisions.resolve_case(queue.case_number(case_id), actor=current_actor(), action=action,
                               version=request.form.get("version", ""),  # type: ignore[arg-type]
                               reason=_form_text("reason"),
                               duplicate_id=_form_text("duplicate_id"))
    except InvalidInput as refused:
        if not _about_reason(refused):
            raise
        return render_template(
            "review/case.html", view=queue.case_view(queue.case_number(case_id)),
            card_fields=record_view.FIELDS, reason_error=refused.detail,
            reason=request.form.get("reason", "")), 400
    flash(f"Kasus {case_id} {RESOLVED_TEXT.get(action, 'diselesaikan')}.", "success")
    return redirect(url_for("review.case", case_id=case_id))


@bp.get("/records.csv")
@login_required
def records_csv() -> Response:
    """The filtered records list as CSV."""
    return listing.records_csv(request.args)


@bp.get("/records")
@login_required
def records() -> Any:
    """Records filtered by state, area and team; CSV with ``?format=csv``."""
    if listing.wants_csv(request.args):
        return listing.records_csv(request.args)
    filters, page = listing.record_page(request.args)
    return render_template("review/records.html", page=page, filters=filters, states=queue.STATES)


@bp.post("/records/bulk-approve")
@login_required
def bulk_approve() -> Response:
    """Approve every verified record of one desa or kecamatan (supervisors)."""
    desa, kecamatan = _form_text("desa"), _form_text("kecamatan")
    count = decisions.bulk_approve(actor=current_actor(), desa_kode=desa,
                                kecamatan_kode=None if desa else kecamatan)
    flash(f"{count} rekaman terverifikasi di {desa or kecamatan} disetujui.", "success")
    return redirect(url_for("review.records", desa=desa or "", kecamatan=kecamatan or ""))


@bp.get("/jobs")
@login_required
def jobs() -> str:
    """Background jobs: checks, full check runs, imports; state, progress, attempts."""
    return render_template("review/jobs.html", rows=background.recent(),
                           may_run=current_actor().role in background.RUN_ROLES)


@bp.post("/jobs/check-all")
@login_required
def start_check_all() -> Response:
    """Queue a full check run (supervisors and admins)."""
    job_id = background.start_full_check(current_actor())
    flash(f"Pemeriksaan penuh diantrekan sebagai pekerjaan #{job_id}.", "success")
    return redirect(url_for("review.jobs"))


@bp.get("/records/<record_id>")
@login_required
def record(record_id: str) -> str:
    """One record: card beside the registry, files, versions, cases, audit trail."""
    return render_template("review/record.html", view=record_view.record_view(record_id))


@bp.post("/records/<record_id>/decide")
@login_required
def decide(record_id: str) -> Any:
    """Approve, reject or send back one record from its page."""
    action = request.form.get("action", "")
    try:
        decisions.decide_record(record_id, actor=current_actor(), action=action,
                                reason=_form_text("reason"))
    except InvalidInput as refused:
        if not _about_reason(refused):
            raise
        return render_template("review/record.html", view=record_view.record_view(record_id),
                               reason_error=refused.detail,
                               reason=request.form.get("reason", "")), 400
    flash(f"Rekaman {RESOLVED_TEXT.get(action, 'diputuskan')}.", "success")
    return redirect(url_for("review.record", record_id=record_id))


@bp.get("/records/<record_id>/files/<role>")
@login_required
def record_file(record_id: str, role: str) -> Response:
    """A record's photo, signature or other biometric file (logged-in users only)."""
    return file_response(*record_view.open_file(record_id, role))
