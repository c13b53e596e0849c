"""Drafts of the operator web app: what was typed and uploaded before the record is saved.

A draft keeps the form as typed (strings, unchecked), its exceptions and the NIK of the target
it started from in one box under the device's data key (``sealed``), and the uploaded biometric
files encrypted under that key in ``<home>/drafts/<draft id>/<role><ext>.enc`` (each checked on
upload like a file named on the command line). A draft started from a record keeps that
record's files by hash. :func:`finalize` turns a draft into a normal outbox record exactly
once: the record and the draft's "saved" mark go in ONE transaction guarded by
``record_id IS NULL``, so a double click or a second browser tab finds the record the first one
saved instead of saving another. The saved draft stays as a tombstone (draft id -> record id)
without the personal data. A draft left unsaved for 72 hours is deleted (:func:`expire`).
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
from field_client.store.keys import Keys
from field_client.store.outbox import Outbox
from shared import datakey
from shared.protocol import ClientState

log = logging.getLogger(__name__)

DRAFTS_DIR = "drafts"
#: What a draft id looks like (a UUID); anything else from a form is refused.
_DRAFT_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
#: How the web form names a missing file and a missing exception (shown next to the role).
WEB_WORDING = FixWording("unggah berkasnya", "pilih alasan pengecualiannya", codes=False)
#: An open draft untouched this long is deleted with its files.
DRAFT_LIFETIME = dt.timedelta(hours=72)
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


def get(outbox: Outbox, draft_id: str, data_key: bytes) -> Draft:
    """The draft ``draft_id`` (open or saved); :class:`DraftNotFound` when there is none."""
    rows = outbox.rows(_SELECT + " WHERE d.id = ?", (str(draft_id),))
    if not rows:
        raise DraftNotFound(
            "Draf ini tidak ada (lagi) di laptop ini: mungkin sudah dibuang atau kedaluwarsa "
            "(72 jam tanpa disimpan). Mulai rekaman baru."
        )
    return _draft(outbox, rows[0], data_key)


def listing(outbox: Outbox, data_key: bytes) -> list[Draft]:
    """Open drafts (not saved yet) that open with ``data_key``, the most recently changed
    first. A draft under another key (an earlier registration's) is left out: it opens no
    more and goes after 72 hours like any other."""
    rows = outbox.rows(_SELECT + " WHERE d.record_id IS NULL ORDER BY d.updated_at DESC, d.id DESC")
    return [draft for row in rows if (draft := _readable(outbox, row, data_key)) is not None]


def _readable(outbox: Outbox, row: Any, data_key: bytes) -> Draft | None:
    """The draft of ``row``, or None when its box does not open with ``data_key``."""
    try:
        return _draft(outbox, row, data_key)
    except DraftNotFound:
        log.warning("draft %s does not open with this data key: left out", row["id"])
        return None


def count_open(outbox: Outbox) -> int:
    """How many drafts are not saved yet."""
    return int(outbox.scalar("SELECT count(*) FROM draft WHERE record_id IS NULL"))


def _draft(outbox: Outbox, row: Any, data_key: bytes) -> Draft:
    files = {
        f["role"]: DraftFile(
            f["role"], f["filename"], f["media_type"], f["size"], _resolve(outbox, f["path"]),
            f["sha256"],
        )
        for f in outbox.rows(
            "SELECT * FROM draft_file WHERE draft_id = ? ORDER BY role", (row["id"],)
        )
    }
    content = _content(row, data_key)
    return Draft(
        id=row["id"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        operator=row["operator"],
        form=content.get("form") or {},
        files=files,
        exceptions=content.get("exceptions") or {},
        supersedes=row["supersedes"],
        target_nik=content.get("target_nik"),
        source_record=row["source_record"],
        record_id=row["record_id"],
        saved_at=row["saved_at"],
        seq=row["seq"],
    )


def _content(row: Any, data_key: bytes) -> dict[str, Any]:
    """``{form, exceptions, target_nik}`` of a draft row (its box opened with the data key)."""
    if row["sealed"] is None:
        return {}  # a saved draft's tombstone
    try:
        content = datakey.decrypt_json(data_key, bytes(row["sealed"]))
    except datakey.DataKeyError as exc:
        raise DraftNotFound(
            "Draf ini dibuat dengan kunci perangkat lain (pendaftaran sebelumnya) dan tidak dapat "
            "dibuka lagi. Buang lalu mulai rekaman baru."
        ) from exc
    return content if isinstance(content, dict) else {}


# -- saving -----------------------------------------------------------------------------------


def save(
    outbox: Outbox,
    drafts_dir: Path,
    draft_id: str | None,
    data_key: bytes,
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
    kept: Mapping[str, blobs.KeptFile] | None = None,
) -> Draft:
    """Create (``draft_id`` None) or update a draft; raise and write nothing on a bad input.

    ``new_id`` (with ``draft_id`` None) is the id a new draft gets, chosen by the form when it
    was shown: a second POST of the same new form (a double click) updates that draft instead
    of making another one.

    ``form`` replaces the draft's; so does ``exceptions`` when given (None keeps them; an empty
    reason means no exception for that role);
    ``uploads`` (role -> (file name, bytes)) replace the files of their roles, ``remove`` drops
    roles. ``supersedes``/``target_nik`` None keep what the draft has. ``kept`` (a new draft
    only) are a record's files, by hash.
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
    current = get(outbox, draft_id, data_key) if draft_id is not None else None
    if current is not None and current.record_id is not None:
        raise _closed(current)
    new_id = current.id if current else (new_id or str(uuid6.uuid7()))
    folder = drafts_dir / new_id
    staged = draft_inputs.stage_uploads(folder, uploads or {}, data_key)
    content = {
        "form": typed,
        "exceptions": current.exceptions if excepted is None and current else (excepted or {}),
        "target_nik": target_nik or (current.target_nik if current else None),
    }
    try:
        _write(outbox, current, new_id, data_key, content, operator.strip(), dropped, staged,
               supersedes, source_record, kept or {})
    except BaseException:
        for item in staged.values():
            item.temp.unlink(missing_ok=True)
        raise
    draft_inputs.install_staged(staged, current.files if current else {}, dropped)
    return get(outbox, new_id, data_key)


def _write(
    outbox: Outbox,
    current: Draft | None,
    draft_id: str,
    data_key: bytes,
    content: dict[str, Any],
    operator: str,
    dropped: set[str],
    staged: dict[str, draft_inputs.Staged],
    supersedes: str | None,
    source_record: str | None,
    kept: Mapping[str, blobs.KeptFile],
) -> None:
    now = _changed_at()
    sealed = datakey.encrypt_json(data_key, content)
    target_mac = datakey.nik_mac(data_key, content["target_nik"]) \
        if content["target_nik"] else None
    with outbox.atomic():
        if current is None:
            outbox.execute(
                "INSERT INTO draft (id, created_at, updated_at, operator, sealed, supersedes, "
                "target_mac, source_record) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (draft_id, now, now, operator, sealed, supersedes, target_mac, source_record),
            )
        else:
            changed = outbox.execute(
                "UPDATE draft SET updated_at = ?, operator = ?, sealed = ?, form = NULL, "
                "exceptions = NULL, target_nik = NULL, supersedes = COALESCE(?, supersedes), "
                "target_mac = COALESCE(?, target_mac) WHERE id = ? AND record_id IS NULL",
                (now, operator, sealed, supersedes, target_mac, draft_id),
            )
            if changed.rowcount != 1:  # saved (or discarded) by someone else meanwhile
                raise _closed(get(outbox, draft_id, data_key))
        for role in dropped | set(staged):
            outbox.execute(
                "DELETE FROM draft_file WHERE draft_id = ? AND role = ?", (draft_id, role)
            )
        for item in staged.values():
            f = item.file
            outbox.execute(
                "INSERT INTO draft_file (draft_id, role, filename, media_type, size, path, "
                "encrypted) VALUES (?, ?, ?, ?, ?, ?, 1)",
                (draft_id, f.role, f.filename, f.media_type, f.size, _stored(outbox, f.path)),
            )
        for role, file in kept.items():
            suffix = (blobs.suffixes_for([file.media_type]) or [""])[0]
            outbox.execute(
                "INSERT INTO draft_file (draft_id, role, filename, media_type, size, path, "
                "sha256) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (draft_id, role, f"{role}{suffix}", file.media_type, file.size,
                 blobs.relative_path(file.sha256), file.sha256),
            )


def _stored(outbox: Outbox, path: Path) -> str:
    """``path`` relative to the home folder when inside it (a moved home keeps working)."""
    try:
        return path.relative_to(outbox.path.parent).as_posix()
    except ValueError:
        return str(path)


def _resolve(outbox: Outbox, stored: str) -> Path:
    return outbox.path.parent / stored


def _closed(draft: Draft) -> DraftClosed:
    return _closed_as(draft.seq)


def _closed_as(seq: int | None) -> DraftClosed:
    """The refusal to change a draft saved as the record of ``seq``."""
    where = f" seq {seq}" if seq is not None else ""
    return DraftClosed(
        f"Draf ini sudah disimpan sebagai rekaman{where} dan tidak dapat diubah lagi. Untuk "
        "mengubah datanya, tunggu kantor mengembalikannya (perlu perbaikan)."
    )


def discard(outbox: Outbox, drafts_dir: Path, draft_id: str) -> None:
    """Throw away an open draft: its row and its staged files (no key needed)."""
    rows = outbox.rows(_SELECT + " WHERE d.id = ?", (str(draft_id),))
    if not rows:
        raise DraftNotFound("Draf ini tidak ada (lagi) di laptop ini.")
    if rows[0]["record_id"] is not None:
        raise _closed_as(rows[0]["seq"])
    with outbox.atomic():
        changed = outbox.execute(
            "DELETE FROM draft WHERE id = ? AND record_id IS NULL", (rows[0]["id"],)
        )
        if changed.rowcount != 1:  # saved by another window meanwhile
            raise _closed_as(outbox.scalar(
                "SELECT r.seq FROM draft d JOIN record r ON r.id = d.record_id WHERE d.id = ?",
                (rows[0]["id"],)))
    shutil.rmtree(drafts_dir / rows[0]["id"], ignore_errors=True)
    outbox.checkpoint()  # the typed personal data must not linger in the WAL


def expire(outbox: Outbox, drafts_dir: Path, now: dt.datetime | None = None) -> int:
    """Delete open drafts untouched for :data:`DRAFT_LIFETIME` with their files, and the
    tombstones of saved ones as old; how many open drafts went. Reads only when none is due."""
    moment = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC) - DRAFT_LIFETIME
    cutoff = moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    due = outbox.rows("SELECT id, record_id FROM draft WHERE updated_at < ?", (cutoff,))
    if not due:
        return 0
    with outbox.atomic():
        outbox.execute("DELETE FROM draft WHERE updated_at < ?", (cutoff,))
    for row in due:
        shutil.rmtree(drafts_dir / row["id"], ignore_errors=True)
    outbox.checkpoint()
    gone = sum(1 for row in due if row["record_id"] is None)
    if gone:
        log.info("deleted %d drafts left unsaved for %s", gone, DRAFT_LIFETIME)
    return gone


def secure_legacy(outbox: Outbox, drafts_dir: Path, data_key: bytes) -> int:
    """Encrypt the drafts an older version kept in clear (form, files) under the data key;
    how many. Runs at the first login after the upgrade: only a PIN gives the key."""
    rows = outbox.rows("SELECT * FROM draft WHERE sealed IS NULL AND record_id IS NULL")
    files = outbox.rows("SELECT f.* FROM draft_file f JOIN draft d ON d.id = f.draft_id "
                        "WHERE f.encrypted = 0 AND f.sha256 IS NULL AND d.record_id IS NULL")
    if not rows and not files:
        return 0
    moved: list[tuple[Path, Path]] = []
    for f in files:
        old = _resolve(outbox, f["path"])
        new = old.with_name(old.name + draft_inputs.ENCRYPTED_SUFFIX)
        try:
            new.write_bytes(datakey.encrypt(data_key, old.read_bytes()))
        except OSError:
            log.warning("a draft file could not be read to encrypt it; it is dropped")
        moved.append((old, new))
    with outbox.atomic():
        for row in rows:
            content = {"form": json.loads(row["form"]) if row["form"] else {},
                       "exceptions": json.loads(row["exceptions"]) if row["exceptions"] else {},
                       "target_nik": row["target_nik"]}
            target_mac = datakey.nik_mac(data_key, row["target_nik"]) \
                if row["target_nik"] else None
            outbox.execute(
                "UPDATE draft SET sealed = ?, target_mac = ?, form = NULL, exceptions = NULL, "
                "target_nik = NULL WHERE id = ?",
                (datakey.encrypt_json(data_key, content), target_mac, row["id"]))
        for (_, new), f in zip(moved, files, strict=True):
            if new.exists():
                outbox.execute("UPDATE draft_file SET path = ?, encrypted = 1 WHERE draft_id = ? "
                               "AND role = ?", (_stored(outbox, new), f["draft_id"], f["role"]))
            else:
                outbox.execute("DELETE FROM draft_file WHERE draft_id = ? AND role = ?",
                               (f["draft_id"], f["role"]))
    for old, _ in moved:
        old.unlink(missing_ok=True)
    outbox.vacuum()
    return len(rows)




# -- starting from a record or a target -----------------------------------------------------


def _changed_at() -> str:
    """``updated_at`` to the microsecond: finalize saves only the version it checked."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def start_from_record(
    outbox: Outbox, drafts_dir: Path, record_ref: str, operator: str, data_key: bytes
) -> Draft:
    """A draft prefilled from what the office sent back of a record: a fix of a ``needs_fix``
    one, a new record again for a ``rejected`` one; its files kept by hash, its exceptions."""
    row = records.find(outbox, str(record_ref or "")) if str(record_ref or "").strip() else None
    if row is None:
        raise FixRefused(f"Rekaman '{record_ref}' tidak ada di laptop ini. Tidak ada draf dibuat.")
    if row["state"] not in (ClientState.NEEDS_FIX, ClientState.REJECTED):
        raise FixRefused(
            f"Rekaman seq {row['seq']} berstatus {row['state']}: hanya rekaman yang perlu "
            "diperbaiki (needs_fix) atau ditolak (rejected) yang dapat dibuka lagi sebagai draf. "
            "Tidak ada draf dibuat."
        )
    supersedes = row["id"] if row["state"] == ClientState.NEEDS_FIX else None
    source = None if supersedes is not None else row["id"]
    if supersedes is not None:
        fixes.load(outbox, row["id"], data_key)  # the same rule as the command line's fix
        already = _open_draft_where(outbox, "supersedes", supersedes, data_key)
    else:
        already = _open_draft_where(outbox, "source_record", row["id"], data_key)
    if already is not None:
        return already  # a second click on "perbaiki" / "rekam ulang" opens the same draft
    try:
        original = fixes.returned_record(row, data_key)
    except FixRefused:
        if supersedes is not None:
            raise
        # Refused when it was pushed: the office never had it to send back. A new record.
        return save(outbox, drafts_dir, None, data_key, form={}, operator=operator,
                    source_record=source)
    form = {key: str(value) for key, value in original.payload.items()}
    return save(
        outbox, drafts_dir, None, data_key, form=form, operator=operator,
        exceptions=original.exceptions, supersedes=supersedes, source_record=source,
        kept=original.files,
    )


def start_from_target(outbox: Outbox, drafts_dir: Path, nik: str, operator: str,
                      data_key: bytes) -> Draft:
    """A draft for a resident of the target list, prefilled from it (the visit's desa too)."""
    prefill = targets.prefill(outbox, nik, data_key)
    mac = datakey.nik_mac(data_key, prefill["nik"])
    already = _open_draft_where(outbox, "target_mac", mac, data_key)
    if already is not None:
        return already
    form = {key: str(value) for key, value in prefill.items()}
    return save(outbox, drafts_dir, None, data_key, form=form, operator=operator,
                target_nik=prefill["nik"])


def _open_draft_where(outbox: Outbox, column: str, value: str, data_key: bytes) -> Draft | None:
    assert column in ("supersedes", "target_mac", "source_record")
    rows = outbox.rows(
        _SELECT + f" WHERE d.{column} = ? AND d.record_id IS NULL ORDER BY d.updated_at DESC",
        (value,),
    )
    found = (_readable(outbox, row, data_key) for row in rows)
    return next((draft for draft in found if draft is not None), None)


# -- finalizing -------------------------------------------------------------------------------


def finalize(
    outbox: Outbox,
    files_dir: Path,
    drafts_dir: Path,
    draft_id: str,
    keys: Keys,
    *,
    operator: str | None = None,
) -> SavedRecord:
    """Save the draft as a record, exactly once; a draft saved before answers with that record.

    Raises :class:`CaptureInvalid` (keys: payload fields, ``file.<role>``, ``exception.<role>``,
    ``biometrics[.<role>]``, ``operator``, ``record``) or :class:`FixRefused`, leaving the draft
    as it was.
    """
    draft = get(outbox, draft_id, keys.data_key)
    if draft.record_id is not None:
        return _saved(outbox, draft.record_id)
    # The files of the rejected record this draft records again: once its successor is saved,
    # those no record names any more go with its sealed copy.
    dropped = [row["sha256"] for row in records.files_of(outbox, draft.source_record)] \
        if draft.source_record else []
    try:
        saved = _save_record(outbox, files_dir, draft, operator or draft.operator, keys)
    except _SavedMeanwhile:
        return _saved(outbox, get(outbox, draft.id, keys.data_key).record_id or "")
    except (CaptureInvalid, FixRefused):
        again = get(outbox, draft.id, keys.data_key)  # saved by another click meanwhile?
        if again.record_id is not None:
            return _saved(outbox, again.record_id)
        raise
    shutil.rmtree(drafts_dir / draft.id, ignore_errors=True)
    # Only that record's files: a file sealed by a save still running elsewhere (its rows not
    # committed yet) is named by no row either, and must stay.
    blobs.discard_unreferenced(outbox, files_dir, dropped)
    outbox.checkpoint()  # the draft's personal data must not linger in the WAL
    return saved


def check(outbox: Outbox, draft_id: str, data_key: bytes) -> list[dict[str, str]]:
    """Check an open draft exactly as :func:`finalize` would, saving nothing; its warnings.

    Raises :class:`CaptureInvalid` / :class:`FixRefused` like finalize; a saved draft has none.
    """
    draft = get(outbox, draft_id, data_key)
    if draft.record_id is not None:
        return []
    checked, _ = _prepare(outbox, draft, draft.operator, data_key)
    mac = datakey.nik_mac(data_key, checked.payload["nik"])
    return list(checked.warnings) + capture.local_duplicate_warning(outbox, checked, 0, mac)


def _save_record(
    outbox: Outbox, files_dir: Path, draft: Draft, operator: str | None, keys: Keys
) -> SavedRecord:
    checked, original = _prepare(outbox, draft, operator, keys.data_key)

    def mark_saved() -> None:
        now = records.utc_now()
        changed = outbox.execute(
            "UPDATE draft SET record_id = ?, saved_at = ?, updated_at = ?, form = NULL, "
            "exceptions = NULL, target_nik = NULL, sealed = NULL, target_mac = NULL "
            "WHERE id = ? AND record_id IS NULL "
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
        if draft.source_record:
            records.drop_sealed(outbox, draft.source_record, now)

    return capture.save(outbox, files_dir, [checked], keys, also=mark_saved)[0]


def _prepare(
    outbox: Outbox, draft: Draft, operator: str | None, data_key: bytes
) -> tuple[capture.Capture, fixes.Original | None]:
    """The draft checked as a record (nothing written), and the record it fixes if any."""
    payload = {key: value for key, value in draft.form.items() if value.strip()}
    files: dict[str, capture.FileRef] = {
        role: _file_ref(f, data_key) for role, f in draft.files.items()}
    original = fixes.load(outbox, draft.supersedes, data_key) if draft.supersedes else None
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


def _file_ref(file: DraftFile, data_key: bytes) -> capture.FileRef:
    """What saving takes for a draft's file: a kept one by hash, an upload in memory."""
    if file.sha256 is not None:
        return blobs.KeptFile(file.role, file.sha256, file.size, file.media_type)
    try:
        data = file.read(data_key)
    except (OSError, datakey.DataKeyError):
        raise CaptureInvalid({f"file.{file.role}": [
            f"Berkas {file.filename} draf ini tidak terbaca lagi; unggah lagi."]}) from None
    return blobs.FileSource(file.role, Path(file.filename), len(data), file.media_type, data)


def _refuse_unchanged(original: fixes.Original, checked: capture.Capture) -> None:
    """A fix that changes nothing would send the office the same record again."""
    files = {source.role: _sha256(source) for source in checked.files}
    before = {role: kept.sha256 for role, kept in original.files.items()}
    exceptions = {e["role"]: e["reason"] for e in checked.exceptions}
    if (checked.payload, files, exceptions) == (original.payload, before, original.exceptions):
        raise FixRefused(
            f"Belum ada yang diubah dari rekaman seq {original.seq}: perbaiki isian atau "
            "berkasnya sesuai catatan kantor. Tidak ada yang disimpan."
        )


def _sha256(source: blobs.FileSource | blobs.KeptFile) -> str:
    if isinstance(source, blobs.KeptFile):
        return source.sha256
    return hashlib.sha256(source.data or b"").hexdigest()


def _saved(outbox: Outbox, record_id: str) -> SavedRecord:
    row = outbox.rows("SELECT id, seq, record_sha256 FROM record WHERE id = ?", (record_id,))
    if not row:  # cannot happen: the record and the mark are written together
        raise DraftNotFound("Rekaman dari draf ini tidak ditemukan di laptop ini.")
    return SavedRecord(row[0]["id"], row[0]["seq"], row[0]["record_sha256"])
