"""Turn what an operator entered into an enrollment record, and save it durably, sealed.

:func:`prepare` only checks (no side effect), so an invalid capture leaves no trace;
:func:`save` seals the biometric files to the office key and stores the records, each sealed
to the office key too, in ONE outbox transaction that also allocates their sequence numbers.
From then on the laptop cannot read them: only a masked name and the operator (under the data
key) and a keyed hash of the NIK (for the same-NIK warning) stay readable to a logged-in
operator.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uuid6
from marshmallow import ValidationError

from field_client.errors import CaptureInvalid
from field_client.store import blobs, records
from field_client.store.keys import Keys
from field_client.store.outbox import Outbox
from shared import datakey
from shared.biometrics import label, missing_roles
from shared.canonical import with_hash
from shared.labels import REASON_LABELS
from shared.nik import check_nik_against_record, parse_nik
from shared.schemas import EnrollmentPayloadSchema, RecordSchema, normalize_payload
from shared.sealing import seal_record, sealed_sha256
from shared.vocab import EXCEPTABLE_ROLES, EXCEPTION_REASONS

log = logging.getLogger(__name__)

RECORD_TYPE = "enrollment"
_PLACEHOLDER_SHA = "0" * 64
# marshmallow's built-in messages, said the way the rest of the client speaks.
_MESSAGES_ID = {
    "Missing data for required field.": "Wajib diisi.",
    "Unknown field.": "Kolom tidak dikenal.",
    "Not a valid string.": "Harus berupa teks.",
    "Not a valid date.": "Tanggal tidak sah; tulis TTTT-BB-HH (misalnya 1990-08-17).",
    "Not a valid datetime.": "Waktu tidak sah.",
    "Field may not be null.": "Tidak boleh kosong.",
    "Not a valid integer.": "Harus bilangan bulat.",
    "Not a valid list.": "Harus berupa daftar.",
    "Invalid input type.": "Bentuk data tidak sah.",
}


@dataclass(frozen=True)
class SavedRecord:
    """A record safely in the outbox: what the operator is told after saving."""

    id: str
    seq: int
    record_sha256: str
    warnings: list[dict[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class FixWording:
    """How the operator names a file and an exception where they type them (CLI, JSONL, ...)."""

    file: str  # with "{role}", e.g. "--file {role}=PATH"
    exception: str  # e.g. "--exception {role}=ALASAN"
    #: The operator types codes (role and reason names) here: messages name them. A form with
    #: labels and choices does not, and its messages use the labels only.
    codes: bool = True


CLI_WORDING = FixWording("--file {role}=PATH", "--exception {role}=ALASAN")


@dataclass(frozen=True)
class Capture:
    """A checked capture, ready to be stored (nothing is on disk yet)."""

    id: str
    captured_at: str
    operator: str
    payload: dict[str, Any]
    files: tuple[blobs.FileSource | blobs.KeptFile, ...]
    exceptions: tuple[dict[str, str], ...]
    supersedes: str | None
    warnings: tuple[dict[str, str], ...]


#: A file the operator names by path, one already checked (or in memory), or one a record
#: already names (a fix keeps it, by hash).
FileRef = Path | str | blobs.FileSource | blobs.KeptFile


def prepare(
    payload: Any,
    operator: str | None,
    files: Mapping[str, FileRef] | None = None,
    exceptions: Mapping[str, str] | None = None,
    supersedes: str | None = None,
    now: dt.datetime | None = None,
    wording: FixWording = CLI_WORDING,
) -> Capture:
    """Normalise and check everything; raise :class:`CaptureInvalid` listing every problem.

    Every biometric needs a file, or (all but the photo) an exception with a reason; ``wording``
    tells the operator how to add what is missing where they type it.
    """
    problems: dict[str, list[str]] = {}
    card, warnings = _check_payload(payload, problems)
    sources = _check_files(files or {}, problems)
    excepted = _check_exceptions(exceptions or {}, problems)
    _check_coverage(files or {}, exceptions or {}, wording, problems)
    if not (operator or "").strip():
        problems.setdefault("operator", []).append("Nama operator wajib diisi (--operator).")
    if problems:
        raise CaptureInvalid(problems)
    capture = Capture(
        id=str(uuid6.uuid7()),
        captured_at=records.format_utc(now or dt.datetime.now(dt.UTC)),
        operator=str(operator).strip(),
        payload=card,
        files=tuple(sources),
        exceptions=tuple(excepted),
        supersedes=supersedes,
        warnings=tuple(warnings),
    )
    # The final guard: the whole record against the wire schema, before anything is written.
    attachments = [_attachment(s.role, _PLACEHOLDER_SHA, s.size, s.media_type) for s in sources]
    _guard(with_hash(_record(capture, seq=1, attachments=attachments)))
    return capture


def save(
    outbox: Outbox,
    files_dir: Path,
    captures: Sequence[Capture],
    keys: Keys,
    also: Callable[[], None] | None = None,
) -> list[SavedRecord]:
    """Seal the files and store ``captures``, sealed, in one transaction; all of them or none.

    ``also`` runs first inside that transaction (raising there saves nothing).
    """
    stored: list[list[records.StoredFile]] = []
    created: list[str] = []
    try:
        for capture in captures:
            stored.append(_store_files(outbox, files_dir, capture, keys, created))
        with outbox.atomic():
            if also is not None:
                also()
            pairs = zip(captures, stored, strict=True)
            return [_insert(outbox, capture, files, keys) for capture, files in pairs]
    except BaseException:
        # Nothing was saved: remove the files this attempt added, unless a record uses them.
        blobs.discard_unreferenced(outbox, files_dir, created)
        raise


def _insert(outbox: Outbox, capture: Capture, files: list[records.StoredFile],
            keys: Keys) -> SavedRecord:
    seq = outbox.allocate_seq()
    attachments = [_attachment(f.role, f.sha256, f.size, f.media_type) for f in files]
    record = with_hash(_record(capture, seq=seq, attachments=attachments))
    _guard(record)
    # The sealed bytes are what is sent, byte for byte, on every push.
    sealed = seal_record(keys.office.public, record)
    nik_mac = datakey.nik_mac(keys.data_key, capture.payload["nik"])
    records.insert(outbox, records.SealedRecord(
        id=capture.id, seq=seq, key_id=keys.office.kid, sealed=sealed,
        sealed_sha256=sealed_sha256(sealed), record_sha256=record["record_sha256"],
        captured_at=capture.captured_at, supersedes=capture.supersedes, nik_mac=nik_mac,
        label=records.make_label(keys.data_key, capture.payload["nama"], capture.operator),
    ), files)
    warnings = list(capture.warnings) + local_duplicate_warning(outbox, capture, seq, nik_mac)
    return SavedRecord(capture.id, seq, record["record_sha256"], warnings)


def _store_files(outbox: Outbox, files_dir: Path, capture: Capture, keys: Keys,
                 created: list[str]) -> list[records.StoredFile]:
    stored = []
    for source in capture.files:
        if isinstance(source, blobs.KeptFile):
            stored.append(_kept(outbox, source))
            continue
        blob = blobs.store(files_dir, source, keys.office.kid, keys.office.public)
        key_id = blob.key_id
        if blob.created:
            created.append(blob.sha256)
        else:  # sealed earlier, perhaps to an older office key: that one opens it
            earlier = records.kept_file(outbox, blob.sha256)
            key_id = earlier["key_id"] if earlier is not None else key_id
        stored.append(records.StoredFile(
            source.role, blob.sha256, blob.size, source.media_type,
            blobs.relative_path(blob.sha256), key_id, blob.sealed_sha256, blob.sealed_size,
        ))
    return stored


def _kept(outbox: Outbox, source: blobs.KeptFile) -> records.StoredFile:
    """A file a fix keeps: the sealed copy on the laptop when there is one; else only its hash
    (the server holds it: the office sent the record back after it was complete)."""
    copy = records.kept_file(outbox, source.sha256)
    if copy is None:
        return records.StoredFile(source.role, source.sha256, source.size, source.media_type,
                                  blobs.relative_path(source.sha256))
    return records.StoredFile(source.role, source.sha256, source.size, source.media_type,
                              copy["path"], copy["key_id"], copy["sealed_sha256"],
                              copy["sealed_size"])


def _record(capture: Capture, seq: int, attachments: list[dict[str, Any]]) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": capture.id,
        "seq": seq,
        "type": RECORD_TYPE,
        "captured_at": capture.captured_at,
        "operator": capture.operator,
        "payload": capture.payload,
        "attachments": attachments,
        "exceptions": list(capture.exceptions),
    }
    if capture.supersedes is not None:
        record["supersedes"] = capture.supersedes
    return record


def _attachment(role: str, sha256: str, size: int, media_type: str) -> dict[str, Any]:
    return {"role": role, "sha256": sha256, "size": size, "media_type": media_type}


def _guard(record: dict[str, Any]) -> None:
    try:
        RecordSchema().load(record)
    except ValidationError as exc:
        raise CaptureInvalid(flatten_messages(exc.messages)) from exc


def _check_payload(
    raw: Any, problems: dict[str, list[str]]
) -> tuple[dict[str, Any], list[dict[str, str]]]:
    if not isinstance(raw, dict):
        problems["payload"] = ["Data kartu harus berupa objek JSON (kolom: nilai)."]
        return {}, []
    tidy = normalize_payload(raw)
    try:
        loaded = EnrollmentPayloadSchema().load(tidy)
    except ValidationError as exc:
        problems.update(flatten_messages(exc.messages))
        return {}, []
    # One spelling for the hash: the loaded values, with the date back in ISO form.
    card = {
        key: value.isoformat() if isinstance(value, dt.date) else value
        for key, value in loaded.items()
    }
    facts = parse_nik(card["nik"])
    found = check_nik_against_record(facts, loaded["tanggal_lahir"], card["jenis_kelamin"])
    return card, [warning.as_dict() for warning in found]


def _check_files(
    files: Mapping[str, FileRef], problems: dict[str, list[str]]
) -> list[blobs.FileSource | blobs.KeptFile]:
    sources: list[blobs.FileSource | blobs.KeptFile] = []
    for role, path in files.items():
        if isinstance(path, blobs.FileSource | blobs.KeptFile):  # checked where it was found
            sources.append(path)
            continue
        source, found = blobs.check_file(role, path)
        if found:
            problems[f"file.{role}"] = found
        elif source is not None:
            sources.append(source)
    return sources


def _check_exceptions(
    exceptions: Mapping[str, str], problems: dict[str, list[str]]
) -> list[dict[str, str]]:
    checked = []
    for role, reason in exceptions.items():
        found = []
        if role not in EXCEPTABLE_ROLES:
            found.append(
                f"Peran '{role}' tidak dapat dikecualikan. Pilihan: {', '.join(EXCEPTABLE_ROLES)}."
            )
        if reason not in EXCEPTION_REASONS:
            found.append(
                f"Alasan '{reason}' tidak dikenal. Pilihan: {', '.join(EXCEPTION_REASONS)}."
            )
        if found:
            problems[f"exception.{role}"] = found
        else:
            checked.append({"role": role, "reason": reason})
    return checked


def _check_coverage(
    files: Mapping[str, object],
    exceptions: Mapping[str, str],
    wording: FixWording,
    problems: dict[str, list[str]],
) -> None:
    """Every role named once (a file or an exception), none left out: "forgot" is not done."""
    for role in sorted(set(files) & set(exceptions) & set(EXCEPTABLE_ROLES)):
        named = label(role).capitalize() + (f" ({role})" if wording.codes else "")
        problems.setdefault(f"exception.{role}", []).append(
            f"{named} punya berkas dan juga pengecualian; pilih "
            f"salah satu: {_option(wording.file, role)} atau {_option(wording.exception, role)}."
        )
    missing = missing_roles(files, exceptions)
    if not missing:
        return
    summary = f"{len(missing)} biometrik belum punya berkas maupun pengecualian."
    if set(missing) & set(EXCEPTABLE_ROLES) and wording.codes:
        reasons = ", ".join(f"{r} ({REASON_LABELS[r]})" for r in EXCEPTION_REASONS)
        summary += f" ALASAN pengecualian salah satu dari: {reasons}."
    problems["biometrics"] = [summary]
    for role in missing:
        problems[f"biometrics.{role}"] = [_missing_message(role, wording)]


def _missing_message(role: str, wording: FixWording) -> str:
    what = label(role).capitalize()
    if role not in EXCEPTABLE_ROLES:
        return f"{what} wajib ada: {_option(wording.file, role)}. Foto tidak dapat dikecualikan."
    message = (
        f"{what} belum direkam: {_option(wording.file, role)}, atau bila tidak dapat direkam "
        f"{_option(wording.exception, role)}."
    )
    if role == "signature":
        message += " Penduduk yang tidak dapat menulis: rekam cap jempolnya sebagai tanda tangan."
    return message


def _option(template: str, role: str) -> str:
    return template.format(role=role)


def local_duplicate_warning(outbox: Outbox, capture: Capture, seq: int,
                            nik_mac: str) -> list[dict[str, str]]:
    """The warning that this NIK was recorded on this laptop before (other than ``seq``), by
    its keyed hash (``nik_mac``)."""
    earlier = [s for s in records.seqs_with_nik(outbox, nik_mac) if s != seq]
    if not earlier or capture.supersedes is not None:
        return []
    listed = ", ".join(str(s) for s in earlier[:5])
    return [
        {
            "code": "nik_already_recorded",
            "message": f"NIK ini sudah pernah direkam di perangkat ini (seq {listed}).",
        }
    ]


def flatten_messages(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """marshmallow's nested error messages as ``{"a.b": [message, ...]}`` in Bahasa Indonesia."""
    flat: dict[str, list[str]] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            name = "record" if key == "_schema" and not prefix else str(key)
            path = f"{prefix}.{name}" if prefix else name
            for sub, texts in flatten_messages(value, path).items():
                flat.setdefault(sub, []).extend(texts)
    elif isinstance(messages, list | tuple):
        for item in messages:
            if isinstance(item, dict | list):
                for sub, texts in flatten_messages(item, prefix).items():
                    flat.setdefault(sub, []).extend(texts)
            else:
                flat.setdefault(prefix or "record", []).append(_MESSAGES_ID.get(item, str(item)))
    else:
        flat.setdefault(prefix or "record", []).append(_MESSAGES_ID.get(messages, str(messages)))
    return flat
