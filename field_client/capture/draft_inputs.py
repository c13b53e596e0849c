"""What the operator web app hands a draft, checked before anything is written: the typed form
(field names and plain text only), exception roles, and uploaded files, staged next to their
place in the draft's folder and checked exactly like a file named on the command line."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from field_client.errors import CaptureInvalid
from field_client.store import blobs
from shared.schemas import PAYLOAD_FIELDS

MAX_VALUE = 500  # characters of one typed value: far above any card field, far below abuse
NOT_SAVED = "Draf belum dapat disimpan; tidak ada yang diubah."


@dataclass(frozen=True)
class DraftFile:
    """A biometric file uploaded into a draft, staged on disk."""

    role: str
    filename: str  # as the operator's browser named it
    media_type: str
    size: int
    path: Path


@dataclass(frozen=True)
class Staged:
    """An upload written and checked, waiting for its draft row to be committed."""

    file: DraftFile  # where it goes
    temp: Path  # where it is until the row is committed


def checked_form(form: Mapping[str, str], problems: dict[str, list[str]]) -> dict[str, str]:
    """The typed values (card field names, plain text); problems noted by field."""
    if not isinstance(form, Mapping):
        problems["form"] = ["Isian formulir tidak terbaca."]
        return {}
    typed: dict[str, str] = {}
    for key, value in form.items():
        if key not in PAYLOAD_FIELDS:
            problems[str(key)] = [
                f"Kolom tidak dikenal. Pilihan: {', '.join(PAYLOAD_FIELDS)}."
            ]
        elif not isinstance(value, str):
            problems[key] = ["Harus berupa teks."]
        elif len(value) > MAX_VALUE:
            problems[key] = [f"Terlalu panjang (paling banyak {MAX_VALUE} karakter)."]
        else:
            typed[key] = value
    return typed


def checked_exceptions(
    exceptions: Mapping[str, str], problems: dict[str, list[str]]
) -> dict[str, str]:
    """Exceptions by known role (the reason is checked on saving); an empty reason is none."""
    checked: dict[str, str] = {}
    for role, reason in exceptions.items():
        if role not in blobs.FILE_RULES:
            problems[f"exception.{role}"] = [f"Peran biometrik '{role}' tidak dikenal."]
        elif not isinstance(reason, str) or len(reason) > MAX_VALUE:
            problems[f"exception.{role}"] = ["Alasan pengecualian tidak terbaca."]
        elif reason.strip():
            checked[role] = reason.strip()  # checked against the reasons when finalized
    return checked


def checked_roles(roles: Iterable[str], problems: dict[str, list[str]]) -> set[str]:
    """The known roles among ``roles``; problems noted for the others."""
    if isinstance(roles, str):
        roles = [roles]
    known = set()
    for role in roles:
        if role in blobs.FILE_RULES:
            known.add(role)
        else:
            problems[f"file.{role}"] = [f"Peran biometrik '{role}' tidak dikenal."]
    return known


def stage_uploads(folder: Path, uploads: Mapping[str, tuple[str, bytes]]) -> dict[str, Staged]:
    """Write every upload next to its place and check it; all good or none kept (CaptureInvalid)."""
    staged: dict[str, Staged] = {}
    problems: dict[str, list[str]] = {}
    try:
        for role, upload in uploads.items():
            try:
                name, data = upload
            except (TypeError, ValueError):
                problems[f"file.{role}"] = ["Unggahan tidak terbaca; pilih berkasnya lagi."]
                continue
            item, found = _stage_one(folder, role, str(name or ""), data)
            if item is not None:
                staged[role] = item
            if found:
                problems[f"file.{role}"] = found
        if problems:
            raise CaptureInvalid(problems, NOT_SAVED)
    except BaseException:
        for item in staged.values():
            item.temp.unlink(missing_ok=True)
        _remove_if_empty(folder)
        raise
    return staged


def _stage_one(
    folder: Path, role: str, name: str, data: Any
) -> tuple[Staged | None, list[str]]:
    filename = Path(name.replace("\\", "/")).name.strip()[:200] or "berkas"
    if not isinstance(data, bytes | bytearray):
        return None, ["Unggahan tidak terbaca; pilih berkasnya lagi."]
    suffix = Path(filename).suffix.lower()
    suffix = suffix if suffix[1:].isalnum() and len(suffix) <= 10 else ""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(dir=folder, prefix=f".incoming-{role}-", suffix=suffix)
    temp = Path(temp_name)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    # The same checks as a file named on the command line (role, type by suffix, size).
    source, found = blobs.check_file(role, temp)
    if found or source is None:
        temp.unlink(missing_ok=True)
        return None, [_named(text, temp, filename) for text in found]
    target = folder / f"{role}{suffix}"
    return Staged(DraftFile(role, filename, source.media_type, source.size, target), temp), []


def _named(text: str, temp: Path, filename: str) -> str:
    """A message about the staged copy, naming the file as the operator chose it."""
    return text.replace(str(temp), filename).replace(temp.name, filename)


def install_staged(staged: dict[str, Staged], old: Mapping[str, DraftFile],
                   dropped: set[str]) -> None:
    """Move committed uploads into place; delete the ``old`` files they replaced or that were
    dropped."""
    for role in dropped | set(staged):
        if role in old and (role not in staged or old[role].path != staged[role].file.path):
            old[role].path.unlink(missing_ok=True)
    for item in staged.values():
        os.replace(item.temp, item.file.path)


def _remove_if_empty(folder: Path) -> None:
    with contextlib.suppress(OSError):
        folder.rmdir()
