"""The enrollment form: a draft kept in the outbox, a review screen, and one save.

Every POST of the form first stores what was typed (and the files chosen) in the draft, so a
wrong value never costs the operator the rest: the page comes back with the values, the files
already attached and a message next to each wrong field. "Simpan" turns the draft into a record
exactly once; a second click finds the draft saved and shows the same record.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from flask import (
    Blueprint,
    abort,
    flash,
    g,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from werkzeug.datastructures import FileStorage

from field_client.errors import (
    CaptureInvalid,
    DraftClosed,
    DraftNotFound,
    FieldClientError,
    FixRefused,
)
from field_client.ui import form_fields
from field_client.ui.access import client
from field_client.ui.form_fields import BIOMETRICS, CARD_FIELD_NAMES, CARD_FIELDS, REASONS
from field_client.ui.session_auth import login_required
from shared.datakey import DataKeyError

bp = Blueprint("enroll", __name__)
#: Problems that belong to no single field are shown above the form.
GENERAL = "_umum"


@bp.get("/rekam")
@login_required
def new_form() -> Any:
    """An empty form; the draft is made on its first save under the key chosen here."""
    return _render_form(None, {}, {}, {}, {})


@bp.post("/rekam")
@login_required
def create() -> Any:
    """The first save of a new form: make the draft, then go on like an edit."""
    return _save_and_continue(None)


@bp.post("/rekam/sasaran")
@login_required
def from_target() -> Any:
    """A draft prefilled from the visit's target list."""
    draft = client().draft_from_target(request.form.get("nik", ""), g.operator, g.data_key)
    return redirect(url_for("enroll.edit", draft_id=draft.id))


@bp.post("/rekaman/<record_id>/perbaiki")
@login_required
def from_record(record_id: str) -> Any:
    """A draft from a record the office sent back: a fix, or (rejected) a new recording."""
    draft = client().draft_from_record(record_id, g.operator, g.data_key)
    return redirect(url_for("enroll.edit", draft_id=draft.id))


@bp.get("/draf/<draft_id>")
@login_required
def edit(draft_id: str) -> Any:
    """The form over a draft, as it was left."""
    draft = _open_draft(draft_id)
    if draft.record_id is not None:
        return redirect(url_for("enroll.saved", draft_id=draft_id))
    return _render_form(draft, draft.form, draft.exceptions, {}, {})


@bp.post("/draf/<draft_id>")
@login_required
def update(draft_id: str) -> Any:
    """Store what was typed; go to the review screen when everything is right."""
    return _save_and_continue(draft_id)


@bp.get("/draf/<draft_id>/periksa")
@login_required
def review(draft_id: str) -> Any:
    """Everything once more, read-only, before the one save."""
    device = client()
    draft = _open_draft(draft_id)
    if draft.record_id is not None:
        return redirect(url_for("enroll.saved", draft_id=draft_id))
    try:
        warnings = device.check_draft(draft_id, g.data_key)
    except (CaptureInvalid, FixRefused) as exc:
        return _render_form(draft, draft.form, draft.exceptions, _problems(exc), {}, 422)
    return render_template(
        "review.html",
        draft=draft,
        fields=CARD_FIELDS,
        biometrics=BIOMETRICS,
        reasons=dict(REASONS),
        desa=_desa_names(),
        warnings=warnings,
    )


@bp.post("/draf/<draft_id>/simpan")
@login_required
def finalize(draft_id: str) -> Any:
    """Save the draft as a record in the outbox (durable); a repeat shows the same record."""
    device = client()
    try:
        saved = device.finalize_draft(draft_id, g.data_key, operator=g.operator)
    except (CaptureInvalid, FixRefused) as exc:
        draft = _open_draft(draft_id)
        return _render_form(draft, draft.form, draft.exceptions, _problems(exc), {}, 422)
    except DraftNotFound:
        abort(404)
    for warning in saved.warnings:  # e.g. the NIK was recorded on this laptop before
        flash(warning["message"], "warn")
    return redirect(url_for("enroll.saved", draft_id=draft_id), code=303)


@bp.get("/draf/<draft_id>/tersimpan")
@login_required
def saved(draft_id: str) -> Any:
    """The confirmation: the record is safe on this laptop, with its number."""
    draft = _open_draft(draft_id)
    if draft.record_id is None:
        return redirect(url_for("enroll.edit", draft_id=draft_id))
    return render_template("saved.html", draft=draft)


@bp.post("/draf/<draft_id>/hapus")
@login_required
def discard(draft_id: str) -> Any:
    """Throw a draft away (its files too)."""
    client().discard_draft(draft_id)
    flash("Draf dihapus.", "success")
    return redirect(url_for("queue.queue"))


@bp.get("/draf/<draft_id>/berkas/<role>")
@login_required
def draft_file(draft_id: str, role: str) -> Any:
    """A file attached to a draft, for the preview on the form and the review screen."""
    draft = _open_draft(draft_id)
    attached = draft.files.get(role)
    if attached is None or attached.kept:  # a record's file is sealed: nothing to show
        abort(404)
    try:
        data = attached.read(g.data_key)  # decrypted in memory, never on disk
    except (OSError, DataKeyError):  # saved meanwhile: the draft's folder is gone
        abort(404)
    return send_file(io.BytesIO(data), mimetype=attached.media_type,
                     download_name=attached.filename)


@bp.get("/periksa-nik.json")
@login_required
def check_nik() -> Any:
    """The NIK's checks while it is typed: the shared rules, offline."""
    args = request.args
    return client().check_nik(
        args.get("nik", ""),
        args.get("tanggal_lahir") or None,
        args.get("jenis_kelamin") or None,
        data_key=g.data_key,
    )


# -- helpers --------------------------------------------------------------------------------


def _save_and_continue(draft_id: str | None) -> Any:
    device = client()
    form = {name: request.form.get(name, "").strip() for name in CARD_FIELD_NAMES}
    exceptions = {
        b.role: reason
        for b in BIOMETRICS
        if b.exceptable and (reason := request.form.get(form_fields.exception_field(b.role)))
    }
    uploads = _uploads()
    remove = [b.role for b in BIOMETRICS if request.form.get(form_fields.remove_field(b.role))]
    key = request.form.get("form_key") if draft_id is None else None

    def store(files: Mapping[str, tuple[str, bytes]]) -> Any:
        return device.save_draft(
            draft_id, g.data_key, form=form, operator=g.operator, uploads=files, remove=remove,
            exceptions=exceptions, new_id=key or None,
        )

    try:
        try:
            draft = store(uploads)
        except CaptureInvalid as refused:
            # A file was refused and nothing of this POST stored: keep the typed values and
            # the good files in the draft anyway, and say which file to choose again.
            bad = {key.partition(".")[2] for key in refused.fields if key.startswith("file.")}
            draft = store({role: item for role, item in uploads.items() if role not in bad})
            return _render_form(draft, form, exceptions, _problems(refused), bad, 422)
    except DraftClosed:
        return redirect(url_for("enroll.saved", draft_id=draft_id))
    except FieldClientError as exc:  # nothing of this POST was stored: show it all again
        previous = _existing_draft(draft_id or key)
        status = 422 if isinstance(exc, CaptureInvalid) else 409
        return _render_form(previous, form, exceptions, _problems(exc), uploads, status,
                            kept=False, form_key=key)
    if request.form.get("action") == "draft":
        flash("Draf disimpan di laptop. Lanjutkan kapan saja dari Antrean.", "success")
        return redirect(url_for("queue.queue"), code=303)
    try:
        device.check_draft(draft.id, g.data_key)
    except (CaptureInvalid, FixRefused) as exc:
        return _render_form(draft, form, exceptions, _problems(exc), {}, 422)
    return redirect(url_for("enroll.review", draft_id=draft.id), code=303)


def _uploads() -> dict[str, tuple[str, bytes]]:
    chosen: dict[str, tuple[str, bytes]] = {}
    for b in BIOMETRICS:
        storage: FileStorage | None = request.files.get(form_fields.file_field(b.role))
        if storage is None or not storage.filename:
            continue  # no file chosen for this role this time
        chosen[b.role] = (storage.filename, storage.read())
    return chosen


def _open_draft(draft_id: str) -> Any:
    try:
        return client().draft(draft_id, g.data_key)
    except DraftNotFound:
        abort(404)


def _existing_draft(draft_id: str | None) -> Any:
    """The draft if it exists (and is open), else None: the page can still show what was typed."""
    if not draft_id:
        return None
    try:
        found = client().draft(draft_id, g.data_key)
    except FieldClientError:
        return None
    return found if found.record_id is None else None


def _problems(exc: FieldClientError) -> dict[str, list[str]]:
    """Messages by form element: a CaptureInvalid's per field, anything else above the form."""
    if isinstance(exc, CaptureInvalid):
        return _errors_by_field(exc)
    return {GENERAL: [exc.message]}


def _errors_by_field(exc: CaptureInvalid) -> dict[str, list[str]]:
    """CaptureInvalid's problems keyed by the form element they belong next to."""
    roles = {b.role for b in BIOMETRICS}
    found: dict[str, list[str]] = {}
    for key, texts in exc.fields.items():
        head, _, tail = key.partition(".")
        if key in CARD_FIELD_NAMES:
            target = key
        elif head == "payload" and tail in CARD_FIELD_NAMES:
            target = tail
        elif head in ("file", "exception", "biometrics") and tail in roles:
            target = f"bio.{tail}"
        else:
            target = GENERAL
        found.setdefault(target, []).extend(texts)
    return found


def _desa_names() -> dict[str, str]:
    return {d["kode"]: d["nama"] for d in client().desa_choices(g.data_key)}


def _render_form(
    draft: Any,
    values: Mapping[str, str],
    exceptions: Mapping[str, str],
    errors: Mapping[str, list[str]],
    rejected_uploads: Iterable[str],
    status: int = 200,
    *,
    kept: bool = True,
    form_key: str | None = None,
) -> Any:
    device = client()
    try:
        desa = device.desa_choices(g.data_key)
    except FieldClientError:
        desa = []
    return (
        render_template(
            "form.html",
            draft=draft,
            values=values,
            exceptions=exceptions,
            errors=errors,
            general=errors.get(GENERAL, []),
            fields=CARD_FIELDS,
            biometrics=BIOMETRICS,
            reasons=REASONS,
            desa=desa,
            profile=device.profile_summary(),
            not_kept=sorted(rejected_uploads),
            kept=kept and draft is not None,
            # A new form's draft id, chosen now: a double click updates one draft, not two.
            form_key=None if draft is not None else (form_key or str(uuid.uuid4())),
        ),
        status,
    )
