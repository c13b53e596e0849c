"""Biometric files on the device: checked, then copied into ``<home>/files/<sha256>``.

Content addressing makes a copy idempotent (the same bytes are stored once) and lets the
record name its files by hash before any upload happens.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from field_client.errors import CaptureInvalid, StorageError
from field_client.store.outbox import Outbox
from shared.biometrics import FILE_RULES, human_size, label, size_problem
from shared.vocab import BIOMETRIC_ROLES

log = logging.getLogger(__name__)

MEDIA_TYPE_BY_SUFFIX = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".wsq": "image/x-wsq",
    ".jp2": "image/jp2",
}
_CHUNK = 1024 * 1024
_TEMP_PREFIX = ".incoming-"


@dataclass(frozen=True)
class FileSource:
    """A biometric file the operator named, checked but not yet copied."""

    role: str
    path: Path
    size: int
    media_type: str


@dataclass(frozen=True)
class Blob:
    """A file copied into the content-addressed folder."""

    sha256: str
    size: int
    created: bool  # False when the same bytes were already stored


def check_file(role: str, path: Path | str) -> tuple[FileSource | None, list[str]]:
    """Check one ``role=path`` pair without copying; return the source or the problems.

    The role must be known, the file's type (from its suffix) one the role allows, and its size
    plausible for the role (``shared.biometrics.FILE_RULES``).
    """
    problems: list[str] = []
    rule = FILE_RULES.get(role)
    if rule is None:
        problems.append(
            f"Peran biometrik '{role}' tidak dikenal. Pilihan: {', '.join(BIOMETRIC_ROLES)}."
        )
    source = Path(path).expanduser()
    media_type = MEDIA_TYPE_BY_SUFFIX.get(source.suffix.lower())
    allowed = ", ".join(suffixes_for(rule.media_types if rule else MEDIA_TYPE_BY_SUFFIX.values()))
    if media_type is None:
        problems.append(
            f"Jenis berkas '{source.suffix or source.name}' tidak didukung ({allowed})."
        )
    elif rule is not None and media_type not in rule.media_types:
        problems.append(
            f"Berkas {source.name} ({media_type}) tidak sesuai untuk {label(role)} ({role}); "
            f"yang boleh: {allowed}."
        )
    size = _size(source)
    if size < 0:
        problems.append(f"Berkas {source} tidak ditemukan atau bukan berkas biasa.")
    elif size == 0:
        problems.append(f"Berkas {source} kosong (0 byte).")
    elif rule is not None and (problem := size_problem(role, size)):
        problems.append(f"Berkas {source} {problem}")
    if problems or media_type is None:
        return None, problems
    return FileSource(role, source, size, media_type), []


def suffixes_for(media_types: Iterable[str]) -> list[str]:
    """The file name suffixes that give one of ``media_types``, in table order."""
    wanted = set(media_types)
    return [suffix for suffix, kind in MEDIA_TYPE_BY_SUFFIX.items() if kind in wanted]


def _size(source: Path) -> int:
    """The file's size, or -1 when it is missing or not a regular file."""
    try:
        return source.stat().st_size if source.is_file() else -1
    except OSError:
        return -1


def relative_path(sha256: str) -> str:
    """Where a blob lives, relative to the home folder."""
    return f"files/{sha256}"


def store(files_dir: Path, source: FileSource) -> Blob:
    """Copy ``source`` into ``files_dir`` under its SHA-256, durably; reuse an existing copy."""
    try:
        files_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, temp_name = tempfile.mkstemp(dir=files_dir, prefix=_TEMP_PREFIX)
    except OSError as exc:
        raise _storage_error(exc, files_dir) from exc
    temp = Path(temp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            sha256, size = _copy_hashing(source, out)
            out.flush()
            os.fsync(out.fileno())
        return _install(files_dir, temp, sha256, size)
    except OSError as exc:
        raise _storage_error(exc, files_dir) from exc
    finally:
        temp.unlink(missing_ok=True)


def discard_unreferenced(outbox: Outbox, files_dir: Path, sha256s: Iterable[str]) -> None:
    """Delete the given blobs that no record in the outbox names (after a failed save)."""
    for sha256 in set(sha256s):
        try:
            used = outbox.scalar("SELECT 1 FROM file WHERE sha256 = ? LIMIT 1", (sha256,))
        except StorageError:
            continue  # cannot tell: keeping an orphan is harmless, deleting a used file is not
        if used is None:
            (files_dir / sha256).unlink(missing_ok=True)


def sweep_incoming(files_dir: Path, older_than: float = 24 * 3600) -> int:
    """Delete half-copied temp files a crash left behind (old ones only: a copy may be running)."""
    if not files_dir.is_dir():
        return 0
    limit = time.time() - older_than
    swept = 0
    for temp in files_dir.glob(f"{_TEMP_PREFIX}*"):
        try:
            if temp.stat().st_mtime < limit:
                temp.unlink()
                swept += 1
        except FileNotFoundError:
            continue
    return swept


def _copy_hashing(source: FileSource, out: IO[bytes]) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    limit = FILE_RULES[source.role].max_bytes
    try:
        stream = open(source.path, "rb")  # noqa: SIM115 - closed by the with below
    except OSError as exc:
        problem = f"Berkas {source.path} tidak dapat dibaca ({exc.strerror})."
        raise CaptureInvalid({f"file.{source.role}": [problem]}) from exc
    with stream:
        while chunk := stream.read(_CHUNK):
            size += len(chunk)
            # The file may have grown since it was checked; the limit holds for what is copied.
            if size > limit:
                problem = f"Berkas {source.path} lebih besar dari {human_size(limit)}."
                raise CaptureInvalid({f"file.{source.role}": [problem]})
            digest.update(chunk)
            out.write(chunk)
    if size == 0:
        raise CaptureInvalid({f"file.{source.role}": [f"Berkas {source.path} kosong (0 byte)."]})
    return digest.hexdigest(), size


def _install(files_dir: Path, temp: Path, sha256: str, size: int) -> Blob:
    target = files_dir / sha256
    if target.is_file() and target.stat().st_size == size:
        return Blob(sha256, size, created=False)
    os.replace(temp, target)
    _fsync_dir(files_dir)
    return Blob(sha256, size, created=True)


def _fsync_dir(directory: Path) -> None:
    # The rename is durable only once the directory entry is on disk.
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _storage_error(exc: OSError, where: Path) -> StorageError:
    if exc.errno == errno.ENOSPC:
        return StorageError(
            f"Penyimpanan penuh saat menyalin berkas biometrik ke {where}. Tidak ada yang "
            "disimpan; kosongkan ruang disk lalu ulangi."
        )
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return StorageError(f"Folder berkas {where} tidak dapat ditulis ({exc.strerror}).")
    return StorageError(f"Gangguan disk saat menyalin berkas biometrik ke {where}: {exc}.")
