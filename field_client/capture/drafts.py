"""Drafts of the operator web app: what was typed and uploaded before the record is saved.

A draft keeps the form as typed (strings, unchecked) and the uploaded biometric files staged in
``<home>/drafts/<draft id>/<role><ext>`` (each checked on upload like a file named on the command
line). :func:`finalize` turns a draft into a normal outbox record exactly once: the record and the
draft's "saved" mark go in ONE transaction guarded by ``record_id IS NULL``, so a double click or
a second browser tab finds the record the first one saved instead of saving another. The saved
draft stays as a tombstone (draft id -> record id) without the personal data.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import re
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uuid6

from field_client.capture import draft_inputs, fixes
from field_client.capture import record as capture
from field_client.capture.draft_inputs import DraftFile
from field_client.capture.record import FixWording, SavedRecord
from field_client.errors import CaptureInvalid, DraftClosed, DraftNotFound, FixRefused
from field_client.store import blobs, records, targets
from field_client.store.outbox import Outbox
from shared.protocol import ClientState

log = logging.getLogger(__name__)

DRAFTS_DIR = "drafts"
#: What a draft id looks like (a UUID); anything else from a form is refused.
_DRAFT_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
#: How the web form names a missing file and a missing exception (shown next to the role).
WEB_WORDING = FixWording("unggah berkasnya", "pilih alasan pengecualiannya", codes=False)
_SELECT = """
    SELECT d.*, r.seq AS seq FROM draft d LEFT JOIN record r ON r.id = d.record_id
"""


@dataclass(frozen=True)
class Draft:
    """A record being entered; ``record_id`` is set once it was saved (then it is closed)."""

    id: str
    created_at: str
    updated_at: str
    operator: str | None
    form: dict[str, str]
    files: dict[str, DraftFile]
    exceptions: dict[str, str]
    supersedes: str | None
    target_nik: str | None
    record_id: str | None
    saved_at: str | None
    seq: int | None  # of the saved record
    source_record: str | None = None  # the rejected record this draft records again


class _SavedMeanwhile(Exception):
    """Another finalize of the same draft committed first."""


# -- reading ----------------------------------------------------------------------------------


def get(outbox: Outbox, draft_id: str) -> Draft:
    """The draft ``draft_id`` (open or saved); :class:`DraftNotFound` when there is none."""
    rows = outbox.rows(_SELECT + " WHERE d.id = ?", (str(draft_id),))
    if not rows:
        raise DraftNotFound(
            "Draf ini tidak ada (lagi) di laptop ini: mungkin sudah dibuang. Mulai rekaman baru."
        )
    return _draft(outbox, rows[0])


def listing(outbox: Outbox) -> list[Draft]:
    """Open drafts (not saved yet), the most recently changed first."""
    rows = outbox.rows(_SELECT + " WHERE d.record_id IS NULL ORDER BY d.updated_at DESC, d.id DESC")
    return [_draft(outbox, row) for row in rows]


def count_open(outbox: Outbox) -> int:
    """How many drafts are not saved yet."""
    return int(outbox.scalar("SELECT count(*) FROM draft WHERE record_id IS NULL"))


def _draft(outbox: Outbox, row: Any) -> Draft:
    files = {
        f["role"]: DraftFile(
            f["role"], f["filename"], f["media_type"], f["size"], _resolve(outbox, f["path"])
        )
        for f in outbox.rows(
            "SELECT * FROM draft_file WHERE draft_id = ? ORDER BY role", (row["id"],)
        )
    }
    return Draft(
        id=row["id"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        operator=row["operator"],
        form=json.loads(row["form"]) if row["form"] else {},
        files=files,
        exceptions=json.loads(row["exceptions"]) if row["exceptions"] else {},
        supersedes=row["supersedes"],
        target_nik=row["target_nik"],
        source_record=row["source_record"],
        record_id=row["record_id"],
        saved_at=row["saved_at"],
        seq=row["seq"],
    )


# -- saving -----------------------------------------------------------------------------------


def save(
    outbox: Outbox,
    drafts_dir: Path,
    draft_id: str | None,
    *,
    form: Mapping[str, str],
    operator: str,
    uploads: Mapping[str, tuple[str, bytes]] | None = None,
    remove: Iterable[str] = (),
    exceptions: Mapping[str, str] | None = None,
    supersedes: str | None = None,
    target_nik: str | None = None,
    source_record: str | None = None,
    new_id: str | None = None,
) -> Draft:
    """Create (``draft_id`` None) or update a draft; raise and write nothing on a bad input.

    ``new_id`` (with ``draft_id`` None) is the id a new draft gets, chosen by the form when it
    was shown: a second POST of the same new form (a double click) updates that draft instead
    of making another one.

    ``form`` replaces the draft's; so does ``exceptions`` when given (None keeps them; an empty
    reason means no exception for that role);
    ``uploads`` (role -> (file name, bytes)) replace the files of their roles, ``remove`` drops
    roles. ``supersedes``/``target_nik`` None keep what the draft has.
    """
    problems: dict[str, list[str]] = {}
    typed = draft_inputs.checked_form(form, problems)
    excepted = None
    if exceptions is not None:
        excepted = draft_inputs.checked_exceptions(exceptions, problems)
    dropped = draft_inputs.checked_roles(remove, problems)
    if not isinstance(operator, str) or not operator.strip():
        problems["operator"] = ["Operator belum masuk; masuk dengan PIN lalu ulangi."]
    if problems:
        raise CaptureInvalid(problems, draft_inputs.NOT_SAVED)
    if draft_id is None and new_id is not None:
        if not _DRAFT_ID.match(str(new_id)):
            raise CaptureInvalid(
                {"record": ["Formulir ini tidak sah; muat ulang halaman Rekam baru."]},
                draft_inputs.NOT_SAVED,
            )
        if outbox.scalar("SELECT 1 FROM draft WHERE id = ?", (new_id,)) is not None:
            draft_id = new_id  # the same new form again: update what the first POST made
    current = get(outbox, draft_id) if draft_id is not None else None
    if current is not None and current.record_id is not None:
        raise _closed(current)
    new_id = current.id if current else (new_id or str(uuid6.uuid7()))
    folder = drafts_dir / new_id
    staged = draft_inputs.stage_uploads(folder, uploads or {})
    try:
        _write(outbox, current, new_id, typed, excepted, operator.strip(), dropped, staged,
               supersedes, target_nik, source_record)
    except BaseException:
        for item in staged.values():
            item.temp.unlink(missing_ok=True)
        raise
    draft_inputs.install_staged(staged, current.files if current else {}, dropped)
    return get(outbox, new_id)


def _write(
    outbox: Outbox,
    current: Draft | None,
    draft_id: str,
    form: dict[str, str],
    exceptions: dict[str, str] | None,
    operator: str,
    dropped: set[str],
    staged: dict[str, draft_inputs.Staged],
    supersedes: str | None,
    target_nik: str | None,
    source_record: str | None = None,
) -> None:
    now = _changed_at()
    with outbox.atomic():
        if current is None:
            outbox.execute(
                "INSERT INTO draft (id, created_at, updated_at, operator, form, exceptions, "
                "supersedes, target_nik, source_record) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (draft_id, now, now, operator, _json(form), _json(exceptions or {}),
                 supersedes, target_nik, source_record),
            )
        else:
            changed = outbox.execute(
                "UPDATE draft SET updated_at = ?, operator = ?, form = ?, "
                "exceptions = COALESCE(?, exceptions), "
                "supersedes = COALESCE(?, supersedes), target_nik = COALESCE(?, target_nik) "
                "WHERE id = ? AND record_id IS NULL",
                (now, operator, _json(form), None if exceptions is None else _json(exceptions),
                 supersedes, target_nik, draft_id),
            )
            if changed.rowcount != 1:  # saved (or discarded) by someone else meanwhile
                raise _closed(get(outbox, draft_id))
        for role in dropped | set(staged):
            outbox.execute(
                "DELETE FROM draft_file WHERE draft_id = ? AND role = ?", (draft_id, role)
            )
        for item in staged.values():
            f = item.file
            outbox.execute(
                "INSERT INTO draft_file (draft_id, role, filename, media_type, size, path) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (draft_id, f.role, f.filename, f.media_type, f.size, _stored(outbox, f.path)),
            )


def _json(value: Mapping[str, str]) -> str:
    return json.dumps(dict(value), ensure_ascii=False, sort_keys=True)


def _stored(outbox: Outbox, path: Path) -> str:
    """``path`` relative to the home folder when inside it (a moved home keeps working)."""
    try:
        return path.relative_to(outbox.path.parent).as_posix()
    except ValueError:
        return str(path)


def _resolve(outbox: Outbox, stored: str) -> Path:
    return outbox.path.parent / stored


def _closed(draft: Draft) -> DraftClosed:
    where = f" seq {draft.seq}" if draft.seq is not None else ""
    return DraftClosed(
        f"Draf ini sudah disimpan sebagai rekaman{where} dan tidak dapat diubah lagi. Untuk "
        "mengubah datanya, tunggu kantor mengembalikannya (perlu perbaikan)."
    )


def discard(outbox: Outbox, drafts_dir: Path, draft_id: str) -> None:
    """Throw away an open draft: its row and its staged files."""
    draft = get(outbox, draft_id)
    if draft.record_id is not None:
        raise _closed(draft)
    with outbox.atomic():
        changed = outbox.execute(
            "DELETE FROM draft WHERE id = ? AND record_id IS NULL", (draft.id,)
        )
        if changed.rowcount != 1:
            raise _closed(get(outbox, draft.id))
    shutil.rmtree(drafts_dir / draft.id, ignore_errors=True)
    outbox.checkpoint()  # the typed personal data must not linger in the WAL




# -- starting from a record or a target -----------------------------------------------------


def _changed_at() -> str:
    """``updated_at`` to the microsecond: finalize saves only the version it checked."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def start_from_record(
    outbox: Outbox, files_dir: Path, drafts_dir: Path, record_ref: str, operator: str
) -> Draft:
    """A draft prefilled from a stored record: a fix of a ``needs_fix`` one, a new record again
    for a ``rejected`` one; its files are copied into the draft, its exceptions too."""
    row = records.find(outbox, str(record_ref or "")) if str(record_ref or "").strip() else None
    if row is None:
        raise FixRefused(f"Rekaman '{record_ref}' tidak ada di laptop ini. Tidak ada draf dibuat.")
    if row["state"] not in (ClientState.NEEDS_FIX, ClientState.REJECTED):
        raise FixRefused(
            f"Rekaman seq {row['seq']} berstatus {row['state']}: hanya rekaman yang perlu "
            "diperbaiki (needs_fix) atau ditolak (rejected) yang dapat dibuka lagi sebagai draf. "
            "Tidak ada draf dibuat."
        )
    if row["body"] is None:
        raise FixRefused(
            f"Data rekaman seq {row['seq']} sudah dibersihkan dari laptop ini; rekam ulang "
            "penduduk ini. Tidak ada draf dibuat."
        )
    body = json.loads(row["body"])
    supersedes = row["id"] if row["state"] == ClientState.NEEDS_FIX else None
    source = None if supersedes is not None else row["id"]
    if supersedes is not None:
        fixes.load(outbox, row["id"])  # the same rule as the command line's fix
        already = _open_draft_where(outbox, "supersedes", supersedes)
    else:
        already = _open_draft_where(outbox, "source_record", row["id"])
    if already is not None:
        return already  # a second click on "perbaiki" / "rekam ulang" opens the same draft
    uploads = _record_files(files_dir, records.files_of(outbox, row["id"]), row["seq"])
    form = {key: str(value) for key, value in body["payload"].items()}
    exceptions = {e["role"]: e["reason"] for e in body.get("exceptions", [])}
    return save(
        outbox, drafts_dir, None, form=form, operator=operator, uploads=uploads,
        exceptions=exceptions, supersedes=supersedes, source_record=source,
    )


def _record_files(files_dir: Path, rows: Iterable[Any], seq: int) -> dict[str, tuple[str, bytes]]:
    """The record's files that are still intact on disk (a lost one is simply missing)."""
    found: dict[str, tuple[str, bytes]] = {}
    for row in rows:
        try:
            data = (files_dir / row["sha256"]).read_bytes()
        except OSError:
            data = b""
        if hashlib.sha256(data).hexdigest() != row["sha256"]:
            log.warning("file %s of record seq %d is missing or damaged", row["role"], seq)
            continue
        suffix = (blobs.suffixes_for([row["media_type"]]) or [""])[0]
        found[row["role"]] = (f"{row['role']}{suffix}", data)
    return found


def start_from_target(outbox: Outbox, drafts_dir: Path, nik: str, operator: str) -> Draft:
    """A draft for a resident of the target list, prefilled from it (the visit's desa too)."""
    prefill = targets.prefill(outbox, nik)
    already = _open_draft_where(outbox, "target_nik", prefill["nik"])
    if already is not None:
        return already
    form = {key: str(value) for key, value in prefill.items()}
    return save(outbox, drafts_dir, None, form=form, operator=operator, target_nik=prefill["nik"])


def _open_draft_where(outbox: Outbox, column: str, value: str) -> Draft | None:
    assert column in ("supersedes", "target_nik", "source_record")
    rows = outbox.rows(
        _SELECT + f" WHERE d.{column} = ? AND d.record_id IS NULL ORDER BY d.updated_at DESC",
        (value,),
    )
    return _draft(outbox, rows[0]) if rows else None


# -- finalizing -------------------------------------------------------------------------------


def finalize(
    outbox: Outbox,
    files_dir: Path,
    drafts_dir: Path,
    draft_id: str,
    *,
    operator: str | None = None,
) -> SavedRecord:
    """Save the draft as a record, exactly once; a draft saved before answers with that record.

    Raises :class:`CaptureInvalid` (keys: payload fields, ``file.<role>``, ``exception.<role>``,
    ``biometrics[.<role>]``, ``operator``, ``record``) or :class:`FixRefused`, leaving the draft
    as it was.
    """
    draft = get(outbox, draft_id)
    if draft.record_id is not None:
        return _saved(outbox, draft.record_id)
    try:
        saved = _save_record(outbox, files_dir, draft, operator or draft.operator)
    except _SavedMeanwhile:
        return _saved(outbox, get(outbox, draft.id).record_id or "")
    except (CaptureInvalid, FixRefused):
        again = get(outbox, draft.id)  # its files may have gone with another click's save
        if again.record_id is not None:
            return _saved(outbox, again.record_id)
        raise
    shutil.rmtree(drafts_dir / draft.id, ignore_errors=True)
    outbox.checkpoint()  # the draft's personal data must not linger in the WAL
    return saved


def check(outbox: Outbox, files_dir: Path, draft_id: str) -> list[dict[str, str]]:
    """Check an open draft exactly as :func:`finalize` would, saving nothing; its warnings.

    Raises :class:`CaptureInvalid` / :class:`FixRefused` like finalize; a saved draft has none.
    """
    draft = get(outbox, draft_id)
    if draft.record_id is not None:
        return []
    checked, _ = _prepare(outbox, files_dir, draft, draft.operator)
    return list(checked.warnings) + capture.local_duplicate_warning(outbox, checked, seq=0)


def _save_record(
    outbox: Outbox, files_dir: Path, draft: Draft, operator: str | None
) -> SavedRecord:
    checked, original = _prepare(outbox, files_dir, draft, operator)

    def mark_saved() -> None:
        now = records.utc_now()
        changed = outbox.execute(
            "UPDATE draft SET record_id = ?, saved_at = ?, updated_at = ?, form = NULL, "
            "exceptions = NULL, target_nik = NULL WHERE id = ? AND record_id IS NULL "
            "AND updated_at = ?",
            (checked.id, now, now, draft.id, draft.updated_at),
        )
        if changed.rowcount != 1:
            now_row = outbox.rows("SELECT record_id FROM draft WHERE id = ?", (draft.id,))
            if not now_row:
                raise DraftNotFound("Draf ini dibuang sementara disimpan; tidak ada yang disimpan.")
            if now_row[0]["record_id"] is None:  # changed in another window meanwhile
                raise CaptureInvalid(
                    {"record": ["Draf ini baru saja diubah di jendela lain; periksa lagi isinya "
                                "lalu simpan. Tidak ada yang disimpan."]},
                )
            raise _SavedMeanwhile
        outbox.execute("DELETE FROM draft_file WHERE draft_id = ?", (draft.id,))
        if original is not None and not records.supersede_locally(outbox, original.id, now):
            raise FixRefused(
                f"Status rekaman seq {original.seq} berubah sementara perbaikan disimpan; tidak "
                "ada yang disimpan. Buka lagi daftar rekaman lalu ulangi."
            )

    return capture.save(outbox, files_dir, [checked], also=mark_saved)[0]


def _prepare(
    outbox: Outbox, files_dir: Path, draft: Draft, operator: str | None
) -> tuple[capture.Capture, fixes.Original | None]:
    """The draft checked as a record (nothing written), and the record it fixes if any."""
    payload = {key: value for key, value in draft.form.items() if value.strip()}
    files: dict[str, capture.FileRef] = {role: f.path for role, f in draft.files.items()}
    original = fixes.load(outbox, draft.supersedes) if draft.supersedes else None
    try:
        checked = capture.prepare(
            payload, operator, files, draft.exceptions,
            original.id if original else None, wording=WEB_WORDING,
        )
    except CaptureInvalid as exc:
        if "operator" in exc.fields:
            exc.fields["operator"] = ["Operator belum masuk; masuk dengan PIN lalu ulangi."]
        raise
    if original is not None:
        _refuse_unchanged(original, checked)
    return checked, original


def _refuse_unchanged(original: fixes.Original, checked: capture.Capture) -> None:
    """A fix that changes nothing would send the office the same record again."""
    files = {source.role: _sha256(source.path) for source in checked.files}
    before = {role: row["sha256"] for role, row in original.files.items()}
    exceptions = {e["role"]: e["reason"] for e in checked.exceptions}
    if (checked.payload, files, exceptions) == (original.payload, before, original.exceptions):
        raise FixRefused(
            f"Belum ada yang diubah dari rekaman seq {original.seq}: perbaiki isian atau "
            "berkasnya sesuai catatan kantor. Tidak ada yang disimpan."
        )


def _sha256(path: Path) -> str:
    try:
        with open(path, "rb") as stream:
            return hashlib.file_digest(stream, "sha256").hexdigest()
    except OSError:
        return ""


def _saved(outbox: Outbox, record_id: str) -> SavedRecord:
    row = outbox.rows("SELECT id, seq, record_sha256 FROM record WHERE id = ?", (record_id,))
    if not row:  # cannot happen: the record and the mark are written together
        raise DraftNotFound("Rekaman dari draf ini tidak ditemukan di laptop ini.")
    return SavedRecord(row[0]["id"], row[0]["seq"], row[0]["record_sha256"])
