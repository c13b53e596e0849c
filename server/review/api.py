"""The office's JSON API (``/api/v1/office``): every office page for scripts, by user token.

Only ``Authorization: Bearer <user token>`` (from ``jemput-server user-token NAME``) is
accepted, never the session cookie, so these endpoints need no CSRF token.
"""

from __future__ import annotations

from typing import Any

from flask import request
from werkzeug.wrappers import Response

from server.accounts.office_auth import current_actor, office_api_blueprint, user_required
from server.core.errors import InvalidInput
from server.core.serialize import jsonable
from server.http.present import file_response
from server.review import dashboard, decisions, listing, queue, record_view

bp = office_api_blueprint("review_api", __name__)



def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidInput("Badan permintaan harus objek JSON.")
    return body


def _text(body: dict[str, Any], key: str) -> str | None:
    """An optional text field of the body; anything but a string or null is a clear 400."""
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise InvalidInput(f"'{key}' harus teks.", errors={key: ["harus teks"]})
    return value


def _page(page: queue.Page) -> dict[str, Any]:
    return {"items": jsonable(page.items), "next_after": page.next_after, "total": page.total}


@bp.get("/dashboard")
@user_required
def get_dashboard() -> Any:
    """The dashboard's figures."""
    return jsonable(dashboard.dashboard())


@bp.get("/cases")
@user_required
def list_cases() -> Any:
    """Cases (open by default) filtered by kecamatan/desa/kind/team; ``?format=csv`` too."""
    if listing.wants_csv(request.args):
        return listing.cases_csv(request.args)
    return _page(listing.case_page(request.args)[1])


@bp.get("/cases/<case_id>")
@user_required
def get_case(case_id: str) -> Any:
    """One case and its records."""
    view = queue.case_view(queue.case_number(case_id))
    return jsonable({"case": view.case, "records": view.records,
                     "differing": sorted(view.differing)})


@bp.post("/cases/<case_id>/resolve")
@user_required
def resolve_case(case_id: str) -> Any:
    """``{action, version, reason?, duplicate_id?}``: resolve the case seen at ``version``."""
    body = _body()
    case = decisions.resolve_case(queue.case_number(case_id), actor=current_actor(),
                               action=_text(body, "action") or "",
                               version=body.get("version", ""), reason=_text(body, "reason"),
                               duplicate_id=_text(body, "duplicate_id"))
    return jsonable({"case": queue.case_view(case.id).case})


@bp.get("/records")
@user_required
def list_records() -> Any:
    """Records filtered by state/kecamatan/desa/team; ``?format=csv`` too."""
    if listing.wants_csv(request.args):
        return listing.records_csv(request.args)
    return _page(listing.record_page(request.args)[1])


@bp.post("/records/bulk-approve")
@user_required
def bulk_approve() -> Any:
    """``{desa_kode}`` or ``{kecamatan_kode}``: approve its verified records (supervisors)."""
    body = _body()
    count = decisions.bulk_approve(actor=current_actor(), desa_kode=_text(body, "desa_kode"),
                                kecamatan_kode=_text(body, "kecamatan_kode"))
    return {"approved": count}


@bp.get("/records/<record_id>")
@user_required
def get_record(record_id: str) -> Any:
    """One record with the registry beside it, files, versions, cases and audit trail."""
    return jsonable(record_view.record_view(record_id))


@bp.post("/records/<record_id>/decide")
@user_required
def decide_record(record_id: str) -> Any:
    """``{action, reason?}``: approve, reject or send back one record."""
    body = _body()
    decisions.decide_record(record_id, actor=current_actor(), action=_text(body, "action") or "",
                         reason=_text(body, "reason"))
    return jsonable({"record": record_view.record_view(record_id).record})


@bp.get("/records/<record_id>/files/<role>")
@user_required
def record_file(record_id: str, role: str) -> Response:
    """A record's biometric file."""
    return file_response(*record_view.open_file(record_id, role))
