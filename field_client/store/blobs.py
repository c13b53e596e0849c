"""Biometric files on the device: checked, then kept sealed to the office key in
``<home>/files/<sha256>.sealed``.

The file is read into memory, hashed and sealed (``shared.sealing``): its clear bytes are never
written under the home folder. The name is the plaintext's SHA-256, as the record names it, so
the same file is kept once however many records name it; the sealed copy differs on every seal,
so its own SHA-256 is noted too (to check the copy before an upload). A file an older version
left in clear (``files/<sha256>``) is sealed by the upgrade.
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

from field_client.errors import CaptureInvalid, StorageError
from field_client.store.outbox import Outbox
from shared.biometrics import FILE_RULES, human_size, label, size_problem
from shared.sealing import SEAL_OVERHEAD, seal
from shared.vocab import BIOMETRIC_ROLES

log = logging.getLogger(__name__)

MEDIA_TYPE_BY_SUFFIX = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".wsq": "image/x-wsq",
    ".jp2": "image/jp2",
}
_TEMP_PREFIX = ".incoming-"


SEALED_SUFFIX = ".sealed"


@dataclass(frozen=True)
class FileSource:
    """A biometric file the operator named, checked but not yet stored.

    ``data`` holds its bytes when they are in memory only (a draft's file, decrypted): then
    ``path`` is just its name for messages.
    """

    role: str
    path: Path
    size: int
    media_type: str
    data: bytes | None = None


@dataclass(frozen=True)
class KeptFile:
    """A file a record already names (a fix keeps it): referenced by hash, never read here."""

    role: str
    sha256: str
    size: int
    media_type: str


@dataclass(frozen=True)
class Blob:
    """A file kept sealed in the content-addressed folder."""

    sha256: str  # of the plaintext
    size: int  # of the plaintext
    sealed_sha256: str
    sealed_size: int
    key_id: str
    created: bool  # False when the same plaintext was already kept


def check_file(role: str, path: Path | str) -> tuple[FileSource | None, list[str]]:
    """Check one ``role=path`` pair without copying; return the source or the problems.

    The role must be known, the file's type (from its suffix) one the role allows, and its size
    plausible for the role (``shared.biometrics.FILE_RULES``).
    """
    source = Path(path).expanduser()
    size = _size(source)
    media_type, problems = check_named(role, source.name, source.suffix, size, str(source))
    if problems or media_type is None:
        return None, problems
    return FileSource(role, source, size, media_type), []


def check_named(role: str, name: str, suffix: str, size: int,
                shown: str) -> tuple[str | None, list[str]]:
    """The media type of a file of ``role`` named ``name`` of ``size`` bytes (-1: missing), or
    the problems with it (``shown`` names it in messages)."""
    problems: list[str] = []
    rule = FILE_RULES.get(role)
    if rule is None:
        problems.append(
            f"Peran biometrik '{role}' tidak dikenal. Pilihan: {', '.join(BIOMETRIC_ROLES)}."
        )
    media_type = MEDIA_TYPE_BY_SUFFIX.get(suffix.lower())
    allowed = ", ".join(suffixes_for(rule.media_types if rule else MEDIA_TYPE_BY_SUFFIX.values()))
    if media_type is None:
        problems.append(f"Jenis berkas '{suffix or name}' tidak didukung ({allowed}).")
    elif rule is not None and media_type not in rule.media_types:
        problems.append(
            f"Berkas {name} ({media_type}) tidak sesuai untuk {label(role)} ({role}); "
            f"yang boleh: {allowed}."
        )
    if size < 0:
        problems.append(f"Berkas {shown} tidak ditemukan atau bukan berkas biasa.")
    elif size == 0:
        problems.append(f"Berkas {shown} kosong (0 byte).")
    elif rule is not None and (problem := size_problem(role, size)):
        problems.append(f"Berkas {shown} {problem}")
    return (None if problems else media_type), problems


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
    """Where a sealed blob lives, relative to the home folder."""
    return f"files/{sha256}{SEALED_SUFFIX}"


def legacy_path(sha256: str) -> str:
    """Where an older version kept a file in clear, relative to the home folder."""
    return f"files/{sha256}"


def read_source(source: FileSource) -> bytes:
    """The bytes of ``source`` (its role's size limit holds for what is read)."""
    limit = FILE_RULES[source.role].max_bytes
    if source.data is not None:
        data = source.data
    else:
        try:
            with open(source.path, "rb") as stream:
                data = stream.read(limit + 1)
        except OSError as exc:
            problem = f"Berkas {source.path} tidak dapat dibaca ({exc.strerror})."
            raise CaptureInvalid({f"file.{source.role}": [problem]}) from exc
    # The file may have grown or emptied since it was checked.
    if len(data) > limit:
        problem = f"Berkas {source.path} lebih besar dari {human_size(limit)}."
        raise CaptureInvalid({f"file.{source.role}": [problem]})
    if not data:
        raise CaptureInvalid({f"file.{source.role}": [f"Berkas {source.path} kosong (0 byte)."]})
    return data


def store(files_dir: Path, source: FileSource, key_id: str, office_public: bytes) -> Blob:
    """Seal ``source`` to the office key into ``files_dir``, durably; reuse a kept copy."""
    data = read_source(source)
    return store_bytes(files_dir, data, key_id, office_public)


def store_bytes(files_dir: Path, data: bytes, key_id: str, office_public: bytes) -> Blob:
    """Seal ``data`` to the office key into ``files_dir`` under its SHA-256 (temp file, fsync,
    rename); the copy already kept for the same plaintext is reused."""
    sha256 = hashlib.sha256(data).hexdigest()
    target = files_dir / f"{sha256}{SEALED_SUFFIX}"
    try:
        files_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        kept = _kept_copy(target, len(data))
        if kept is not None:
            return Blob(sha256, len(data), hashlib.sha256(kept).hexdigest(), len(kept), key_id,
                        created=False)
        sealed = seal(office_public, data)
        if not _write_new(files_dir, target, sealed):
            # Another save sealed the same file meanwhile: its copy is the one records name
            # (replacing it would make the digest they noted wrong).
            kept = _kept_copy(target, len(data))
            if kept is not None:
                return Blob(sha256, len(data), hashlib.sha256(kept).hexdigest(), len(kept),
                            key_id, created=False)
            write_atomically(files_dir, target, sealed)  # a damaged copy: replaced
    except OSError as exc:
        raise _storage_error(exc, files_dir) from exc
    return Blob(sha256, len(data), hashlib.sha256(sealed).hexdigest(), len(sealed), key_id,
                created=True)


def _kept_copy(target: Path, plain_size: int) -> bytes | None:
    """The sealed copy already kept at ``target`` for a plaintext of ``plain_size`` bytes, or
    None when there is none (or it cannot be one: a wrong size)."""
    try:
        if target.stat().st_size != plain_size + SEAL_OVERHEAD:
            return None
        return target.read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        return None


def _write_new(folder: Path, target: Path, data: bytes) -> bool:
    """Write ``data`` to ``target`` through a synced temp file, only if ``target`` does not
    exist yet (a hard link never replaces a file); False when it exists. Where the file system
    has no hard links, the temp file is renamed over it instead."""
    fd, temp_name = tempfile.mkstemp(dir=folder, prefix=_TEMP_PREFIX)
    temp = Path(temp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(temp, target)
        except FileExistsError:
            return False
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
                raise
            os.replace(temp, target)  # e.g. FAT: no hard links
        _fsync_dir(folder)
        return True
    finally:
        temp.unlink(missing_ok=True)


def write_atomically(folder: Path, target: Path, data: bytes) -> None:
    """Write ``data`` to ``target`` through a synced temp file and a rename."""
    fd, temp_name = tempfile.mkstemp(dir=folder, prefix=_TEMP_PREFIX)
    temp = Path(temp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, target)
        _fsync_dir(folder)
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
            (files_dir / f"{sha256}{SEALED_SUFFIX}").unlink(missing_ok=True)


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
            f"Penyimpanan penuh saat menyimpan berkas biometrik ke {where}. Tidak ada yang "
            "disimpan; kosongkan ruang disk lalu ulangi."
        )
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return StorageError(f"Folder berkas {where} tidak dapat ditulis ({exc.strerror}).")
    return StorageError(f"Gangguan disk saat menyimpan berkas biometrik ke {where}: {exc}.")
