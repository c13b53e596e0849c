"""The uploader: send the files the server still needs with tus 1.0.0, resumably and verified.

Per wanted file (``upload_rows``): resume the saved upload (HEAD: the server's offset, never
zero) or create one (POST; a server that already holds the file answers offset == size, and
one that holds an unfinished upload of it from this device answers that one again). A server
naming the ``creation-with-upload`` extension gets the first chunk with the creation (most
biometric files are one chunk: one request per file instead of two). Before any
byte goes, the local copy is hashed: a file missing or changed on disk is marked ``failed`` with
a reason, not sent, and its record kept. Chunks of ``settings.chunk_size`` carry a SHA-256
checksum each; the URL and the offset are saved after every acknowledged chunk, so a killed
client continues where the server stopped. A network failure stops the run (everything saved).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any

from field_client.config import Settings
from field_client.errors import (
    ChecksumMismatch,
    NetworkUnavailable,
    PayloadTooLarge,
    ServerRefused,
    UploadBusy,
    UploadGone,
    UploadLocationRefused,
    UploadOffsetMismatch,
    UploadTooLarge,
)
from field_client.store import records, upload_rows
from field_client.store.outbox import Outbox
from field_client.store.upload_rows import UploadRow
from field_client.sync import tus
from field_client.sync.transport import Transport
from shared import problems
from shared.biometrics import label

log = logging.getLogger(__name__)

#: ``progress(done, total)`` in bytes the server confirmed this run out of those it lacked.
ByteProgress = Callable[[int, int], None]
#: Answers in a row that move one file no further (409, 423, 460, no progress) before giving up.
MAX_STALLS = 3
#: Seconds to wait after a 423 (times the stalls so far): another request holds the upload.
BUSY_PAUSE = 0.5
BLOB_HASH_MISMATCH = problems.BLOB_HASH_MISMATCH.code
UPLOAD_UNREADABLE = problems.UPLOAD_UNREADABLE.code
#: The whole file failed the server's final check (its hash, or the seal did not open): the
#: server discarded the upload; sent again from zero once, then a person must look.
WHOLE_FILE_FAILURES = frozenset({BLOB_HASH_MISMATCH, UPLOAD_UNREADABLE})
_READ = 1024 * 1024
#: The tus extension that lets a creation carry the file's first bytes.
CREATION_WITH_UPLOAD = "creation-with-upload"
_CONFIRMED = tuple(state.value for state in records.CONFIRMED_COMPLETE)


@dataclass
class UploadTally:
    """What the uploads of one run did."""

    uploaded: int = 0  # files the server now holds (sent now, or already there)
    bytes_sent: int = 0  # chunk bytes the server acknowledged
    failed: list[dict[str, Any]] = field(default_factory=list)  # {sha256, seq, role, code, ...}


class FileProblem(Exception):
    """A file that cannot be sent as it is; ``code`` and ``message`` go to the outbox."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class _Meter:
    """One progress count over bytes: where each file stands on the server, summed."""

    def __init__(self, rows: list[UploadRow], progress: ByteProgress | None) -> None:
        self._at = {row.sha256: row.offset for row in rows}
        self.total = sum(row.size - row.offset for row in rows)
        self.done = 0
        self._progress = progress
        if rows:  # no bar at all when there is nothing to upload
            self._show()

    def at(self, sha256: str, position: int) -> None:
        """The server now holds ``position`` bytes of the file (a step back grows the total)."""
        old, self._at[sha256] = self._at[sha256], position
        if position >= old:
            self.done += position - old
        else:
            self.total += old - position
        self._show()

    def skip(self, row: UploadRow) -> None:
        """The file is not coming this run: its bytes leave the total."""
        self.total -= max(row.size - self._at[row.sha256], 0)
        self._at[row.sha256] = row.size
        self._show()

    def _show(self) -> None:
        if self._progress:
            self._progress(self.done, max(self.total, self.done))


class Uploader:
    """Uploads every wanted file of one outbox over one transport."""

    def __init__(
        self,
        outbox: Outbox,
        transport: Transport,
        settings: Settings,
        progress: ByteProgress | None = None,
    ) -> None:
        self.outbox = outbox
        self.transport = transport
        self.settings = settings
        self.progress = progress

    def run(self, tally: UploadTally) -> None:
        """Upload what is wanted; raise :class:`NetworkUnavailable` when the link fails."""
        now = records.utc_now()
        with self.outbox.atomic():
            upload_rows.settle_confirmed(self.outbox, _CONFIRMED, now)
            upload_rows.adopt_orphans(self.outbox, now)
        rows = upload_rows.pending(self.outbox)
        meter = _Meter(rows, self.progress)
        for row in rows:
            self._upload(row, tally, meter)

    def _upload(self, row: UploadRow, tally: UploadTally, meter: _Meter) -> None:
        try:
            self._upload_or_raise(row, tally, meter)
        except FileProblem as problem:
            self._fail(row, problem.code, problem.message, tally, meter)
        except ChecksumMismatch as exc:  # the whole file: the server discarded the upload
            self._discarded(row, exc, tally, meter)
        except UploadLocationRefused as exc:
            self._fail(row, "upload_location_refused", exc.message, tally, meter)
        except ServerRefused as exc:  # the server said no to this file (not to the device)
            self._fail(row, _refusal_code(exc), refusal_message(row, exc), tally, meter)

    def _upload_or_raise(self, row: UploadRow, tally: UploadTally, meter: _Meter) -> None:
        checked = False
        # A second round only when the server lost the upload while we were sending.
        for _ in range(2):
            url, offset = self._resume(row, meter, tally)
            if offset < row.size:
                if not checked:
                    verify_local(self.settings.home, row)
                    checked = True
                try:
                    self._send(row, url, offset, tally, meter)
                except UploadGone:
                    log.info("upload of seq %d %s gone mid-way; creating anew", row.seq, row.role)
                    row = self._forget(row)
                    continue
            self._done(row, url, tally, meter)
            return
        raise NetworkUnavailable(_vanishing(row))

    def _resume(self, row: UploadRow, meter: _Meter, tally: UploadTally) -> tuple[str, int]:
        """The upload to continue and the server's offset: the saved one (HEAD) or a new one."""
        if row.url and self.transport.owns(row.url):
            try:
                offset = self.transport.upload_offset(row.url)
            except UploadGone:
                log.info("saved upload of seq %d %s is gone; creating anew", row.seq, row.role)
            else:
                if offset <= row.size:
                    meter.at(row.sha256, offset)
                    return row.url, offset
        url, offset = self._create(row, tally)
        if offset > row.size:
            raise tus.not_contract(f"dengan posisi {offset} melebihi ukuran berkas {row.size}")
        if offset < row.size:  # a finished one is marked done next (one commit, not two)
            self._save(row.sha256, url, offset)
        meter.at(row.sha256, offset)
        return url, offset

    def _create(self, row: UploadRow, tally: UploadTally) -> tuple[str, int]:
        """Create the upload: the URL and the server's offset. To a server that takes bytes with
        the creation (``creation-with-upload``) the first chunk goes along: one request and one
        answer less per file, which on a slow link is a few per cent of a small file."""
        # No ``filename`` (optional in the contract): the record's file entry names the role
        # and the media type already, and on a slow link its ~35 bytes go with every file.
        declared = (row.sha256, row.plain_size, row.size, row.key_id or "", row.media_type)
        first = self._first_chunk(row)
        if first is not None:
            try:
                url, offset = self.transport.create_upload(*declared, data=first)
            except (UploadOffsetMismatch, UploadBusy) as exc:  # the server has it otherwise
                log.info("creation with bytes of seq %d %s: %s", row.seq, row.role, exc.message)
            except ChecksumMismatch as exc:
                if exc.code in WHOLE_FILE_FAILURES:  # it was the whole file: as after a PATCH
                    raise
                log.info("first chunk of seq %d %s damaged on the way", row.seq, row.role)
            else:
                if offset == len(first):
                    tally.bytes_sent += len(first)
                return url, offset
        return self.transport.create_upload(*declared)  # then PATCH from the server's offset

    def _first_chunk(self, row: UploadRow) -> bytes | None:
        """The bytes to send with the creation, or None: the server does not take them, or the
        local copy is not fit to go (the plain creation tells whether the server needs it)."""
        if CREATION_WITH_UPLOAD not in self.transport.tus_extensions():
            return None
        try:
            verify_local(self.settings.home, row)
            with _open(self.settings.home, row) as stream:
                return _read_chunk(stream, row, 0, self.settings.chunk_size)
        except FileProblem:
            return None

    def _send(
        self, row: UploadRow, url: str, offset: int, tally: UploadTally, meter: _Meter
    ) -> None:
        """PATCH chunks from ``offset`` to the end, saving every acknowledged offset."""
        stalls = 0
        with _open(self.settings.home, row) as stream:
            while offset < row.size:
                data = _read_chunk(stream, row, offset, self.settings.chunk_size)
                try:
                    new, why = self.transport.upload_chunk(url, offset, data), ""
                    tally.bytes_sent += len(data)
                except UploadOffsetMismatch:
                    new, why = self.transport.upload_offset(url), _MOVED  # the server knows
                except UploadBusy:
                    time.sleep(BUSY_PAUSE * (stalls + 1))  # its PATCH takes a moment
                    new, why = self.transport.upload_offset(url), _BUSY
                except ChecksumMismatch as exc:
                    if exc.code in WHOLE_FILE_FAILURES:
                        raise
                    new, why = offset, _DAMAGED  # damaged on the way and discarded: again
                stalls = stalls + 1 if new <= offset else 0
                if stalls >= MAX_STALLS:
                    raise NetworkUnavailable(_stalled(row, why))
                if new > row.size:
                    raise tus.not_contract(f"dengan posisi {new} melebihi ukuran {row.size}")
                if new < row.size:
                    self._save(row.sha256, url, new)
                meter.at(row.sha256, new)
                offset = new

    def _discarded(
        self, row: UploadRow, exc: ChecksumMismatch, tally: UploadTally, meter: _Meter
    ) -> None:
        """The completed file hashed differently on the server, which dropped it."""
        try:
            verify_local(self.settings.home, row)
        except FileProblem as problem:  # changed on disk while it was being sent
            self._fail(row, problem.code, problem.message, tally, meter)
            return
        code = exc.code if exc.code in WHOLE_FILE_FAILURES else BLOB_HASH_MISMATCH
        if code == UPLOAD_UNREADABLE:
            message = (
                f"Server menerima berkas {_what(row)} utuh tetapi tidak dapat membuka segelnya "
                "(HTTP 422), padahal salinan tersegel di perangkat masih utuh. "
            )
        else:
            message = (
                f"Server menerima berkas {_what(row)} tidak utuh: sidik SHA-256 seluruh "
                "berkas tidak cocok (HTTP 460), padahal salinan di perangkat masih utuh. "
            )
        if row.error_code in WHOLE_FILE_FAILURES:  # the second time in a row: not chance
            message += "Ini terjadi dua kali berturut-turut; laporkan ke petugas teknis."
            self._fail(row, code, message, tally, meter)
            return
        message += "Berkas dikirim ulang dari awal pada sinkron berikutnya."
        log.warning("server discarded seq %d %s: %s", row.seq, row.role, exc.message)
        with self.outbox.atomic():
            upload_rows.save_progress(self.outbox, row.sha256, None, 0, records.utc_now())
            upload_rows.note_problem(self.outbox, row.sha256, code, message, records.utc_now())
        meter.skip(row)

    def _save(self, sha256: str, url: str | None, offset: int) -> None:
        with self.outbox.atomic():
            upload_rows.save_progress(self.outbox, sha256, url, offset, records.utc_now())

    def _forget(self, row: UploadRow) -> UploadRow:
        self._save(row.sha256, None, 0)
        return replace(row, url=None)

    def _done(self, row: UploadRow, url: str, tally: UploadTally, meter: _Meter) -> None:
        with self.outbox.atomic():
            upload_rows.mark_done(self.outbox, row.sha256, url, records.utc_now())
        tally.uploaded += 1
        meter.at(row.sha256, row.size)

    def _fail(
        self, row: UploadRow, code: str, message: str, tally: UploadTally, meter: _Meter
    ) -> None:
        log.warning("file of seq %d (%s) not uploaded: %s", row.seq, row.role, code)
        with self.outbox.atomic():
            upload_rows.mark_failed(self.outbox, row.sha256, code, message, records.utc_now())
        tally.failed.append(
            {
                "sha256": row.sha256,
                "seq": row.seq,
                "role": row.role,
                "code": code,
                "message": message,
            }
        )
        meter.skip(row)


def verify_local(home: Path, row: UploadRow) -> None:
    """Raise :class:`FileProblem` unless the sealed copy still has the size and SHA-256 noted
    when it was sealed (the laptop cannot open it, but it can tell it is the same bytes)."""
    path = home / row.path
    if row.sealed_sha256 is None or not row.key_id:
        # No hash to vouch for a copy: lost before the upgrade sealed the old queue, or sealed
        # by it from a clear copy that no longer matched the record (then it is kept, unsent).
        if row.key_id and path.is_file():
            raise FileProblem("file_changed", _changed(row, path))
        raise FileProblem("file_missing", _missing(row, path))
    try:
        digest, size = _digest(path)
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        raise FileProblem("file_missing", _missing(row, path)) from None
    except OSError as exc:
        raise FileProblem("file_unreadable", _unreadable(row, path, exc)) from exc
    if size != row.size or digest != row.sealed_sha256:
        raise FileProblem("file_changed", _changed(row, path))


def refusal_message(row: UploadRow, exc: ServerRefused) -> str:
    """The operator's sentence for a file the server (or a proxy) would not take."""
    where = f"Berkas {_what(row)}"
    kept = "Rekaman dan berkasnya tetap di perangkat; sinkron berikutnya mencoba lagi."
    if isinstance(exc, UploadTooLarge):
        return f"{where} ditolak server karena terlalu besar: {exc.message}. {kept}"
    if isinstance(exc, PayloadTooLarge):
        return (
            f"{where}: potongan unggahan melebihi batas ukuran server atau proxy di depannya "
            f"(HTTP 413). Kecilkan JEMPUT_FIELD_CHUNK_SIZE (sekarang terlalu besar untuk "
            f"jaringan ini) atau minta petugas teknis menaikkan batasnya. {kept}"
        )
    return f"{where} ditolak server: {exc.message}. {kept}"


def _refusal_code(exc: ServerRefused) -> str:
    if isinstance(exc, UploadTooLarge):
        return "file_too_large"
    return exc.code or f"http_{exc.status}"


def _digest(path: Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as stream:
        while block := stream.read(_READ):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


@contextmanager
def _open(home: Path, row: UploadRow) -> Iterator[IO[bytes]]:
    path = home / row.path
    try:
        stream = open(path, "rb")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        raise FileProblem("file_missing", _missing(row, path)) from None
    except OSError as exc:
        raise FileProblem("file_unreadable", _unreadable(row, path, exc)) from exc
    with stream:
        yield stream


def _read_chunk(stream: IO[bytes], row: UploadRow, offset: int, chunk_size: int) -> bytes:
    want = min(chunk_size, row.size - offset)
    stream.seek(offset)
    data = stream.read(want)
    if len(data) != want:  # the file shrank since it was checked
        raise FileProblem("file_changed", _changed(row, Path(stream.name)))
    return data


def _what(row: UploadRow) -> str:
    """``foto wajah (photo, seq 12)``: the file as the operator knows it, no personal data."""
    return f"{label(row.role)} ({row.role}, seq {row.seq})"


_KEPT = (
    "Berkas TIDAK diunggah; rekaman tetap tersimpan (terkirim, menunggu berkas) dan tidak ada "
    "yang dihapus."
)


def _missing(row: UploadRow, path: Path) -> str:
    return (
        f"Berkas {_what(row)} tidak ada lagi di perangkat ({path}). {_KEPT} "
        "Kembalikan berkas itu ke tempatnya lalu sinkron lagi, atau rekam ulang penduduk ini "
        "dengan --supersedes."
    )


def _changed(row: UploadRow, path: Path) -> str:
    return (
        f"Berkas {_what(row)} di perangkat sudah berubah atau rusak ({path}): "
        "isinya tidak lagi cocok dengan sidik SHA-256 saat direkam. "
        f"{_KEPT} Kembalikan berkas aslinya lalu sinkron lagi, atau rekam ulang penduduk ini "
        "dengan --supersedes; periksa juga disk perangkat."
    )


def _unreadable(row: UploadRow, path: Path, exc: OSError) -> str:
    return (
        f"Berkas {_what(row)} tidak dapat dibaca ({path}: {exc.strerror}). {_KEPT} "
        "Periksa izin berkas dan disk, lalu sinkron lagi."
    )


_DAMAGED = "checksum potongan tidak cocok (HTTP 460): sambungan kemungkinan merusak data"
_BUSY = "server sedang menulis unggahan yang sama untuk permintaan lain (HTTP 423)"
_MOVED = "posisi unggahan di server berbeda (HTTP 409)"


def _stalled(row: UploadRow, why: str) -> str:
    return (
        f"Unggahan berkas {_what(row)} tidak maju setelah {MAX_STALLS} percobaan: "
        f"{why or 'server tidak menambah posisi'}. Bagian yang sudah diterima server tetap "
        "tersimpan; sinkron berikutnya melanjutkan dari sana. Berkas dan rekaman tetap aman "
        "di perangkat."
    )


def _vanishing(row: UploadRow) -> str:
    return (
        f"Unggahan berkas {_what(row)} hilang dari server dua kali selagi dikirim. "
        "Berkas dan rekaman tetap aman di perangkat; dicoba lagi pada sinkron berikutnya."
    )
