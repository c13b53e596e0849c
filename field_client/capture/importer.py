"""Import many captures from a JSON Lines file, line by line.

Semantics: per line. Every good line is saved; every bad line is reported with its number and
reason and saves nothing. Good lines are committed in chunks (one transaction each) for speed;
a disk problem stops the import with everything committed before it kept.

A line is either ``{"operator"?, "payload": {...}, "files"?: {role: path}, "exceptions"?:
{role: reason}, "supersedes"?}`` or just the payload (then the default operator is used).
Relative file paths are read relative to the JSONL file's folder. Example::

    {"operator": "op.suryadi", "payload": {"nik": "6109045708900001", ...},
     "files": {"photo": "r001/photo.jpg", "signature": "r001/signature.png",
               "iris_left": "r001/iris_left.jp2", ..., "finger_l_ring": "r001/l_ring.wsq"},
     "exceptions": {"finger_l_little": "amputated"}}

Each line follows the rule of ``enroll``: a photo, and for the signature, both irises and all
ten fingers a file or an exception with a reason (``shared.vocab.EXCEPTION_REASONS``). A line
that leaves one out (a bare payload always does) is refused with every missing role named.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from field_client.capture import record as capture
from field_client.errors import CaptureInvalid, StorageError, UsageInvalid
from field_client.store.keys import Keys
from field_client.store.outbox import Outbox

log = logging.getLogger(__name__)

CHUNK = 200
_ENVELOPE = frozenset({"operator", "payload", "files", "exceptions", "supersedes"})
JSONL_WORDING = capture.FixWording(
    '"files": {{"{role}": "PATH"}}', '"exceptions": {{"{role}": "ALASAN"}}'
)


@dataclass(frozen=True)
class LineError:
    """Why one line was not saved."""

    line: int
    message: str
    fields: dict[str, list[str]] = field(default_factory=dict)

    def lines(self) -> list[str]:
        """Human-readable lines: the reason, then one per wrong field."""
        head = f"baris {self.line}: {self.message}"
        return [head] + [f"  {name}: {text}" for name, t in self.fields.items() for text in t]


@dataclass(frozen=True)
class ImportedRecord:
    """A line that was saved."""

    line: int
    record: capture.SavedRecord


@dataclass
class ImportReport:
    """Saved lines and refused lines of one import."""

    saved: list[ImportedRecord] = field(default_factory=list)
    errors: list[LineError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every line was saved."""
        return not self.errors


def import_jsonl(
    outbox: Outbox, files_dir: Path, path: Path, default_operator: str | None, keys: Keys
) -> ImportReport:
    """Import ``path``; see the module docstring for the line format and semantics."""
    report = ImportReport()
    chunk: list[tuple[int, capture.Capture]] = []
    for number, text in _lines(path):
        try:
            chunk.append((number, _prepare_line(text, path.parent, default_operator)))
        except CaptureInvalid as exc:
            report.errors.append(LineError(number, exc.message, exc.fields))
        except _LineInvalid as exc:
            report.errors.append(LineError(number, str(exc)))
        if len(chunk) >= CHUNK:
            _save(outbox, files_dir, chunk, keys, report)
            chunk = []
    if chunk:
        _save(outbox, files_dir, chunk, keys, report)
    return report


class _LineInvalid(ValueError):
    """A line that is not a capture at all (not JSON, wrong shape)."""


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    try:
        stream = path.open("rb")
    except OSError as exc:
        raise UsageInvalid(f"Berkas impor {path} tidak dapat dibuka: {exc.strerror}.") from exc
    with stream:
        for number, raw in enumerate(stream, start=1):
            if raw.strip():
                yield number, raw.decode("utf-8-sig", errors="replace")


def _prepare_line(text: str, base: Path, default_operator: str | None) -> capture.Capture:
    try:
        item = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _LineInvalid(f"bukan JSON yang sah ({exc.msg}, kolom {exc.colno}).") from exc
    if not isinstance(item, dict):
        raise _LineInvalid("harus berupa objek JSON.")
    if "payload" not in item:
        return capture.prepare(item, default_operator, wording=JSONL_WORDING)
    unknown = sorted(set(item) - _ENVELOPE)
    if unknown:
        raise _LineInvalid(f"kolom tidak dikenal: {', '.join(unknown)}.")
    return capture.prepare(
        item["payload"],
        item.get("operator") or default_operator,
        files={role: base / str(p) for role, p in _mapping(item, "files").items()},
        exceptions={role: str(reason) for role, reason in _mapping(item, "exceptions").items()},
        supersedes=item.get("supersedes"),
        wording=JSONL_WORDING,
    )


def _mapping(item: dict[str, Any], key: str) -> dict[str, Any]:
    value = item.get(key) or {}
    if not isinstance(value, dict):
        raise _LineInvalid(f"'{key}' harus berupa objek {{peran: nilai}}.")
    return value


def _save(
    outbox: Outbox,
    files_dir: Path,
    chunk: list[tuple[int, capture.Capture]],
    keys: Keys,
    report: ImportReport,
) -> None:
    try:
        saved = capture.save(outbox, files_dir, [c for _, c in chunk], keys)
    except CaptureInvalid:
        # Should not happen after prepare(); find the culprit by saving one at a time.
        for number, one in chunk:
            try:
                report.saved.append(
                    ImportedRecord(number, capture.save(outbox, files_dir, [one], keys)[0])
                )
            except CaptureInvalid as exc:
                report.errors.append(LineError(number, exc.message, exc.fields))
        return
    except StorageError as exc:
        kept = len(report.saved)
        raise StorageError(
            f"{exc.message} Impor berhenti di baris {chunk[0][0]}; {kept} rekaman sebelumnya "
            "sudah tersimpan."
        ) from exc
    report.saved.extend(ImportedRecord(n, s) for (n, _), s in zip(chunk, saved, strict=True))
