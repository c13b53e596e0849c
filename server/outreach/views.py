"""Office pages for outreach planning: the ranking, visits and their progress."""

from __future__ import annotations

import datetime as dt

from flask import flash, redirect, render_template, request, url_for
from marshmallow import ValidationError
from werkzeug.wrappers import Response

from server.accounts.office_auth import current_actor, login_required, office_blueprint
from server.core.errors import InvalidInput
from server.core.models.outreach import PLANNED
from server.coverage import figures
from server.outreach import visits as outreach

#: Targets a visit page lists at once (a desa's list can run to a thousand).
TARGETS_PER_PAGE = 100

bp = office_blueprint("outreach", __name__)

#: Visits shown under the ranking besides the planned ones.
RECENT_VISITS = 20


#: The planning form: the office API's visit fields, as text, beside the CSRF token.
VISIT_FORM = outreach.VisitRequestSchema(form=True)


def _can_plan() -> bool:
    return current_actor().role in outreach.PLANNERS


@bp.get("/outreach")
@login_required
def outreach_page() -> str:
    """Desa ranked for the next visit, the planning form, planned and recent visits."""
    at = figures.reference_date(request.args.get("at"))
    today = outreach.office_today()
    kecamatan = request.args.get("kecamatan") or None
    ranked = outreach.ranking(at, kecamatan)
    planned = outreach.visits(PLANNED)
    recent = [visit for visit in outreach.visits(limit=RECENT_VISITS + len(planned),
                                                 newest_first=True)
              if visit.state != PLANNED][:RECENT_VISITS]
    return render_template(
        "outreach/outreach.html", at=at, kecamatan=kecamatan or "", ranked=ranked, planned=planned,
        recent=recent, can_plan=_can_plan(), devices=outreach.active_devices() if _can_plan()
        else [], chosen_desa=request.args.get("desa", ""),
        today=today, tomorrow=today + dt.timedelta(days=1))


@bp.post("/outreach/visits")
@login_required
def outreach_create() -> Response:
    """Plan a visit from the form; its page follows."""
    try:
        form = VISIT_FORM.load(request.form.to_dict())
    except ValidationError as exc:
        raise InvalidInput("Formulir kunjungan belum benar: " + _fields(exc)) from exc
    visit = outreach.create_visit(form["desa_kode"], form["visit_date"], form["team"],
                                  form["device_id"], days=form["days"], actor=current_actor())
    flash(f"Kunjungan ke {visit.desa_nama} {visit.visit_date:%Y-%m-%d} direncanakan: "
          f"{visit.target_count} sasaran dikirim ke perangkat {visit.device_name} saat "
          "sinkron berikutnya.", "success")
    return redirect(url_for("outreach.outreach_visit", visit_id=visit.id))


@bp.get("/outreach/<visit_id>")
@login_required
def outreach_visit(visit_id: str) -> str:
    """One visit: progress, its targets (not yet recorded first; ``?status=belum|sudah``, a page
    of ``TARGETS_PER_PAGE`` after ``?after=NIK``) and close / cancel."""
    progress = outreach.visit_progress(visit_id)
    status = request.args.get("status", "")
    if status not in ("", "belum", "sudah"):
        raise InvalidInput("Status sasaran harus 'belum' atau 'sudah'.")
    chosen = [t for t in progress.targets if not status or t["done"] == (status == "sudah")]
    after = request.args.get("after", "")
    start = next((i + 1 for i, t in enumerate(chosen) if t["nik"] == after), 0) if after else 0
    shown = chosen[start:start + TARGETS_PER_PAGE]
    more = start + TARGETS_PER_PAGE < len(chosen)
    return render_template("outreach/outreach_visit.html", progress=progress, targets=shown,
                           matching=len(chosen), status=status, after=after,
                           next_after=shown[-1]["nik"] if more and shown else None,
                           can_plan=_can_plan(), planned=PLANNED)


@bp.post("/outreach/<visit_id>/close")
@login_required
def outreach_close(visit_id: str) -> Response:
    """Close (``action=close``) or cancel (``action=cancel``) the visit."""
    action = request.form.get("action", "")
    if action not in ("close", "cancel"):
        raise InvalidInput("Pilih tutup atau batalkan kunjungan.")
    visit = outreach.close_visit(visit_id, actor=current_actor(), cancel=action == "cancel")
    word = "dibatalkan" if action == "cancel" else "ditutup"
    flash(f"Kunjungan ke {visit.desa_nama} {word}; daftar sasaran dihapus dari perangkat "
          "saat sinkron berikutnya.", "success")
    return redirect(url_for("outreach.outreach_visit", visit_id=visit_id))


FIELD_LABELS = {"desa_kode": "desa", "visit_date": "tanggal", "team": "tim",
                "device_id": "perangkat", "days": "lama (hari)"}


def _fields(exc: ValidationError) -> str:
    """The fields a form got wrong, named as the form names them."""
    messages = exc.messages if isinstance(exc.messages, dict) else {}
    return ", ".join(FIELD_LABELS.get(str(name), str(name)) for name in messages) + "."
