"""What the operator web app hands a draft, checked before anything is written: the typed form
(field names and plain text only), exception roles, and uploaded files, checked exactly like a
file named on the command line and staged next to their place in the draft's folder, encrypted
under the device's data key (their clear bytes are never written)."""

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
from shared import datakey
from shared.schemas import PAYLOAD_FIELDS

MAX_VALUE = 500  # characters of one typed value: far above any card field, far below abuse
NOT_SAVED = "Draf belum dapat disimpan; tidak ada yang diubah."


ENCRYPTED_SUFFIX = ".enc"


@dataclass(frozen=True)
class DraftFile:
    """A biometric file of a draft: uploaded (staged on disk under the data key) or kept from
    the record the draft starts from (``sha256`` set: a sealed copy, or only on the server)."""

    role: str
    filename: str  # as the operator's browser named it
    media_type: str
    size: int
    path: Path
    sha256: str | None = None  # a kept file of a record, by hash

    @property
    def kept(self) -> bool:
        """Whether this is a record's file, referenced by hash (not readable here)."""
        return self.sha256 is not None

    def read(self, data_key: bytes) -> bytes:
        """The uploaded file's bytes (decrypted in memory); ``OSError``/``DataKeyError``."""
        return datakey.decrypt(data_key, self.path.read_bytes())


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


def stage_uploads(folder: Path, uploads: Mapping[str, tuple[str, bytes]],
                  data_key: bytes) -> dict[str, Staged]:
    """Check every upload and write it, encrypted, next to its place; all good or none kept
    (CaptureInvalid)."""
    staged: dict[str, Staged] = {}
    problems: dict[str, list[str]] = {}
    try:
        for role, upload in uploads.items():
            try:
                name, data = upload
            except (TypeError, ValueError):
                problems[f"file.{role}"] = ["Unggahan tidak terbaca; pilih berkasnya lagi."]
                continue
            item, found = _stage_one(folder, role, str(name or ""), data, data_key)
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
    folder: Path, role: str, name: str, data: Any, data_key: bytes
) -> tuple[Staged | None, list[str]]:
    filename = Path(name.replace("\\", "/")).name.strip()[:200] or "berkas"
    if not isinstance(data, bytes | bytearray):
        return None, ["Unggahan tidak terbaca; pilih berkasnya lagi."]
    suffix = Path(filename).suffix.lower()
    suffix = suffix if suffix[1:].isalnum() and len(suffix) <= 10 else ""
    # The same checks as a file named on the command line (role, type by suffix, size).
    media_type, found = blobs.check_named(role, filename, suffix, len(data), filename)
    if found or media_type is None:
        return None, found
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(dir=folder, prefix=f".incoming-{role}-")
    temp = Path(temp_name)
    with os.fdopen(fd, "wb") as out:
        out.write(datakey.encrypt(data_key, bytes(data)))
        out.flush()
        os.fsync(out.fileno())
    target = folder / f"{role}{suffix}{ENCRYPTED_SUFFIX}"
    return Staged(DraftFile(role, filename, media_type, len(data), target), temp), []


def install_staged(staged: dict[str, Staged], old: Mapping[str, DraftFile],
                   dropped: set[str]) -> None:
    """Move committed uploads into place; delete the ``old`` files they replaced or that were
    dropped."""
    for role in dropped | set(staged):
        if role in old and old[role].kept:
            continue  # a record's sealed file: not the draft's to delete
        if role in old and (role not in staged or old[role].path != staged[role].file.path):
            old[role].path.unlink(missing_ok=True)
    for item in staged.values():
        os.replace(item.temp, item.file.path)


def _remove_if_empty(folder: Path) -> None:
    with contextlib.suppress(OSError):
        folder.rmdir()
