"""Reading reference CSV files for the imports: size limit, UTF-8 per line, clear errors."""

from __future__ import annotations

import csv
import itertools
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from flask import current_app, has_app_context

from server.core.config import DEFAULT_IMPORT_MAX_BYTES
from server.core.errors import InvalidInput

#: Lines between two progress reports (a call per line would cost more than the parsing).
#: Longest line an import reads (a resident row is ~200 bytes).
MAX_LINE_BYTES = 64 * 1024
PROGRESS_EVERY = 2000

#: Called with (bytes read, file size) while an import runs.
Progress = Callable[[int, int], None]
#: A data row with the number of the file line it starts on.
Row = tuple[int, list[str]]


def max_bytes() -> int:
    """The largest file an import accepts (``JEMPUT_IMPORT_MAX_BYTES``, default 4 GiB)."""
    if not has_app_context():
        return DEFAULT_IMPORT_MAX_BYTES
    return int(current_app.config.get("JEMPUT_IMPORT_MAX_BYTES") or DEFAULT_IMPORT_MAX_BYTES)


@contextmanager
def open_csv(path: str | Path, progress: Progress | None = None) -> Iterator[
        tuple[list[str], Iterator[Row]]]:
    """Yield the header and the numbered data rows of a UTF-8 CSV file, checked up front."""
    path = Path(path)
    size = checked_size(path)
    try:
        raw = path.open("rb")
    except OSError as exc:
        raise InvalidInput(f"Berkas {path} tidak dapat dibuka: {exc.strerror}.") from exc
    with raw:
        counter = _LineCounter()
        delimiter, lines = _with_delimiter(_decoded_lines(raw, size, progress, counter))
        reader = csv.reader(lines, delimiter=delimiter, strict=True)
        first = _next_row(reader, counter)
        if first is None:
            raise InvalidInput(f"Berkas {path.name} kosong: tidak ada baris judul kolom.")
        yield first[1], _numbered(reader, counter)


def column_map(header: Sequence[str], required: Iterable[str], optional: Iterable[str]) -> (
        dict[str, int]):
    """Map column names (case-insensitive) to positions; refuse missing, unknown or double ones."""
    names = [name.strip().lower() for name in header]
    required, known = list(required), {*required, *optional}
    missing = [name for name in required if name not in names]
    unknown = [name for name in names if name not in known]
    doubled = sorted({name for name in names if names.count(name) > 1})
    problems = []
    if missing:
        problems.append(f"kolom wajib tidak ada: {', '.join(missing)}")
    if unknown:
        problems.append(f"kolom tidak dikenal: {', '.join(unknown)}")
    if doubled:
        problems.append(f"kolom ganda: {', '.join(doubled)}")
    if problems:
        raise InvalidInput(
            f"Judul kolom (baris 1) salah: {'; '.join(problems)}. Kolom wajib: "
            f"{', '.join(required)}; boleh juga: {', '.join(sorted(known - set(required)))}."
        )
    return {name: index for index, name in enumerate(names)}


def checked_size(path: Path) -> int:
    """The file's size; refuse a missing path, a folder or a file over the limit."""
    try:
        info = path.stat()
    except FileNotFoundError as exc:
        raise InvalidInput(f"Berkas {path} tidak dapat dibuka: berkas tidak ada.") from exc
    except OSError as exc:
        raise InvalidInput(f"Berkas {path} tidak dapat dibuka: {exc.strerror}.") from exc
    if path.is_dir():
        raise InvalidInput(f"{path} adalah folder, bukan berkas CSV.")
    limit = max_bytes()
    if info.st_size > limit:
        raise InvalidInput(
            f"Berkas {path.name} terlalu besar ({_human(info.st_size)}); batas impor "
            f"{_human(limit)} (JEMPUT_IMPORT_MAX_BYTES). Tidak ada yang dibaca atau disimpan."
        )
    return info.st_size


def _with_delimiter(lines: Iterator[str]) -> tuple[str, Iterator[str]]:
    """``;`` when the header line uses it (Excel in an Indonesian locale), else ``,``."""
    peeked: list[str] = []
    for line in lines:
        peeked.append(line)
        if line.strip():
            break
    header = peeked[-1] if peeked else ""
    delimiter = ";" if header.count(";") > header.count(",") else ","
    return delimiter, itertools.chain(peeked, lines)


def _human(size: int) -> str:
    """A byte count as MB or GB, Indonesian decimal comma."""
    if size >= 1024**3:
        return f"{size / 1024**3:.1f} GB".replace(".", ",")
    return f"{size / 1024**2:.1f} MB".replace(".", ",")


class _LineCounter:
    """The number of file lines decoded so far (shared by the decoder and the row numbering)."""

    def __init__(self) -> None:
        self.lines = 0


def _decoded_lines(raw: BinaryIO, size: int, progress: Progress | None,
                   counter: _LineCounter) -> Iterator[str]:
    """Decode the file line by line so that a bad byte is reported with its line number."""
    done = 0
    # A line is read with a cap: a file with no line breaks is refused, not loaded whole.
    for number, chunk in enumerate(iter(lambda: raw.readline(MAX_LINE_BYTES + 1), b""), start=1):
        counter.lines = number
        done += len(chunk)
        if len(chunk) > MAX_LINE_BYTES:
            raise InvalidInput(f"Baris {number} lebih panjang dari {MAX_LINE_BYTES // 1024} KB: "
                               "ini bukan berkas CSV data penduduk atau wilayah.")
        try:
            text = chunk.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidInput(
                f"Berkas bukan teks UTF-8: baris {number} berisi byte 0x{chunk[exc.start]:02x} "
                "yang tidak sah. Simpan ulang berkas sebagai CSV UTF-8."
            ) from exc
        if "\x00" in text:
            raise InvalidInput(f"Baris {number} berisi byte NUL: ini bukan berkas teks CSV.")
        if number == 1:
            text = text.removeprefix("\ufeff")
        if progress is not None and number % PROGRESS_EVERY == 0:
            progress(done, size)
        yield text
    if progress is not None:
        progress(done, size)


def _next_row(reader: Iterator[list[str]], counter: _LineCounter) -> Row | None:
    """The next non-blank row with the line it starts on, or None at the end of the file."""
    try:
        while True:
            start = counter.lines + 1  # the reader pulls lines lazily: the next row starts here
            row = next(reader, None)
            if row is None:
                return None
            if row:
                return start, row
    except csv.Error as exc:
        raise InvalidInput(f"Baris {counter.lines} bukan CSV yang sah: {exc}.") from exc


def _numbered(reader: Iterator[list[str]], counter: _LineCounter) -> Iterator[Row]:
    """The data rows with the line each starts on (a quoted field may span lines)."""
    while (row := _next_row(reader, counter)) is not None:
        yield row
