"""The population registry: imports of a SIAK-style resident CSV, all rows or none."""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import IntegrityError

from server.core import bulk
from server.core.errors import Conflict
from server.core.extensions import db
from server.core.models import Region, Resident
from server.core.models.base import table_of
from server.core.models.region import DESA
from server.core.timeutil import utcnow
from server.registry.csv_files import Progress, Row, column_map, open_csv
from server.registry.regions import ImportReport
from shared import vocab
from shared.errors import InvalidNik
from shared.nik import parse_nik

REQUIRED = ("nik", "nama", "tanggal_lahir", "jenis_kelamin", "desa_kode")
OPTIONAL = ("tempat_lahir", "golongan_darah", "alamat", "rt", "rw", "agama",
            "status_perkawinan", "pekerjaan", "kewarganegaraan", "sudah_rekam")
#: Resident columns an import writes, in this order (``updated_at`` follows on writes).
FIELDS = ("nik", "nama", "tempat_lahir", "tanggal_lahir", "jenis_kelamin", "golongan_darah",
          "alamat", "rt", "rw", "desa_kode", "agama", "status_perkawinan", "pekerjaan",
          "kewarganegaraan", "recorded")
TEXT_LIMITS = {"nama": 120, "tempat_lahir": 60, "alamat": 200}
VOCABULARIES = {
    "jenis_kelamin": frozenset(vocab.JENIS_KELAMIN),
    "golongan_darah": frozenset(vocab.GOLONGAN_DARAH),
    "agama": frozenset(vocab.AGAMA),
    "status_perkawinan": frozenset(vocab.STATUS_PERKAWINAN),
    "pekerjaan": frozenset(vocab.PEKERJAAN),
    "kewarganegaraan": frozenset(vocab.KEWARGANEGARAAN),
}
YES_NO = {"y": True, "ya": True, "1": True, "true": True,
          "n": False, "tidak": False, "0": False, "false": False, "": False}
ISO_DATE = re.compile(r"^([0-9]{4})-([0-9]{2})-([0-9]{2})$")
SIAK_DATE = re.compile(r"^([0-9]{2})-([0-9]{2})-([0-9]{4})$")
RT_RW = re.compile(r"^[0-9]{1,3}$")
CHUNK_ROWS = 5000
#: PostgreSQL's staging table for one import (temporary: dropped when the transaction ends).
STAGE = "resident_import"
#: Memory PostgreSQL may use per sort or hash of the merge (its default, 4 MB, spills to disk).
MERGE_WORK_MEM = "128MB"
OLDEST_BIRTH = dt.date(1880, 1, 1)
#: Valid NIK halves (Kabupaten Sekadau, 1 January 1990) to check the other half alone.
NIK_PLAIN_REGION, NIK_PLAIN_DATE = "610904", "010190"

#: Columns whose values are (nearly) all different: checked every time, never remembered.
UNREPEATED = frozenset({"nik", "nama", "alamat"})
#: Accepted raw values a column remembers (birth dates of 90 years are about 33,000).
KNOWN_VALUES = 100_000

#: Where a resident column comes from, when the CSV names it differently.
SOURCE = {"recorded": "sudah_rekam"}

Values = tuple[Any, ...]
Check = Callable[[str], Any]


class RowRefused(ValueError):
    """One row cannot be imported; the message says why, in Bahasa Indonesia."""


def import_population(path: str | Path, progress: Progress | None = None, *,
                      commit: bool = True) -> ImportReport:
    """Upsert residents from a SIAK-style CSV in one transaction: all rows or none.

    ``commit=False`` leaves an accepted import's transaction open (the job runner commits it
    with the job's "done"); a refused one is always rolled back.
    """
    try:
        with open_csv(path, progress) as (header, rows):
            report = _import_rows(column_map(header, REQUIRED, OPTIONAL), rows)
        if report.ok:
            if commit:
                db.session.commit()
        else:
            db.session.rollback()
            report.imported = report.updated = report.unchanged = 0  # nothing was saved
    except (IntegrityError, psycopg.IntegrityError) as exc:  # another import wrote a NIK meanwhile
        db.session.rollback()
        raise Conflict("Data penduduk berubah selama impor; tidak ada yang disimpan. "
                       "Ulangi impor.") from exc
    except BaseException:
        db.session.rollback()
        raise
    return report


def _import_rows(columns: dict[str, int], rows: Iterator[Row]) -> ImportReport:
    """Check every row and write the valid ones (staged and merged in SQL on PostgreSQL)."""
    parser = _RowParser(columns, _desa_codes())
    if db.session.connection().dialect.name == "postgresql":
        return _staged_import(parser, rows)
    return _chunked_import(parser, rows)


def _chunked_import(parser: _RowParser, rows: Iterator[Row]) -> ImportReport:
    """SQLite: write valid rows chunk by chunk until the first refusal (NIKs seen in memory)."""
    report = ImportReport()
    seen: dict[str, int] = {}
    chunk: list[Values] = []
    for line, row in rows:
        try:
            values = parser.parse(row)
        except RowRefused as exc:
            report.refused.append((line, str(exc)))
            continue
        if values[0] in seen:
            report.refused.append((line, _doubled(seen[values[0]])))
            continue
        seen[values[0]] = line
        chunk.append(values)
        if len(chunk) >= CHUNK_ROWS:
            _write_chunk(chunk, report)
            chunk = []
    _write_chunk(chunk, report)
    return report


def _staged_import(parser: _RowParser, rows: Iterator[Row]) -> ImportReport:
    """PostgreSQL: COPY the valid rows into a temporary table while parsing, find doubled NIKs
    there, then merge with two set-based statements. Memory stays flat at any file size."""
    report = ImportReport()
    driver = db.session.connection().connection.driver_connection
    assert driver is not None
    names = ", ".join(FIELDS)
    with driver.cursor() as cursor:
        cursor.execute(f"SET LOCAL work_mem = '{MERGE_WORK_MEM}'")
        cursor.execute(f"DROP TABLE IF EXISTS {STAGE}")
        cursor.execute(f"CREATE TEMPORARY TABLE {STAGE} ON COMMIT DROP AS "
                       f"SELECT 0 AS line, {names} FROM resident WITH NO DATA")
        with cursor.copy(f"COPY {STAGE} (line, {names}) FROM STDIN") as copy:
            for line, row in rows:
                try:
                    copy.write_row((line, *parser.parse(row)))
                except RowRefused as exc:
                    report.refused.append((line, str(exc)))
        cursor.execute(f"ANALYZE {STAGE}")
        report.refused.extend(_staged_doubles(cursor))
        report.refused.sort()
        if not report.refused:
            _merge_stage(cursor, report)
    return report


def _staged_doubles(cursor: psycopg.Cursor[Any]) -> list[tuple[int, str]]:
    """Every staged row whose NIK an earlier line holds, as a refusal naming that line."""
    cursor.execute(
        f"WITH doubled AS (SELECT nik FROM {STAGE} GROUP BY nik HAVING count(*) > 1) "
        f"SELECT line, min(line) OVER (PARTITION BY nik) FROM {STAGE} JOIN doubled USING (nik)")
    return [(line, _doubled(first)) for line, first in cursor.fetchall() if line != first]


def _merge_stage(cursor: psycopg.Cursor[Any], report: ImportReport) -> None:
    """Update the residents whose values changed, then insert the new ones; count each."""
    now = utcnow()
    changing = ", ".join(f"{name} = s.{name}" for name in FIELDS[1:])
    ours = ", ".join(f"r.{name}" for name in FIELDS[1:])
    theirs = ", ".join(f"s.{name}" for name in FIELDS[1:])
    cursor.execute(f"UPDATE resident AS r SET {changing}, updated_at = %s FROM {STAGE} AS s "
                   f"WHERE r.nik = s.nik AND ({ours}) IS DISTINCT FROM ({theirs})", (now,))
    report.updated = cursor.rowcount
    names = ", ".join(FIELDS)
    cursor.execute(f"INSERT INTO resident ({names}, updated_at) SELECT {names}, %s "
                   f"FROM {STAGE} AS s WHERE NOT EXISTS "
                   "(SELECT 1 FROM resident AS r WHERE r.nik = s.nik)", (now,))
    report.imported = cursor.rowcount
    cursor.execute(f"SELECT count(*) FROM {STAGE}")
    staged = cursor.fetchone()
    assert staged is not None
    report.unchanged = staged[0] - report.imported - report.updated


def _doubled(first: int) -> str:
    """The refusal of a row whose NIK line ``first`` already holds."""
    return f"NIK ganda (sudah ada di baris {first})"


def _desa_codes() -> frozenset[str]:
    """Every desa code of the region table."""
    return frozenset(db.session.execute(select(Region.kode).where(Region.level == DESA)).scalars())


def _existing_residents(niks: list[str]) -> dict[str, Values]:
    """The registry's current values of ``niks`` (in :data:`FIELDS` order), for the upsert."""
    table = table_of(Resident)
    statement = select(*(table.c[name] for name in FIELDS)).where(table.c.nik.in_(niks))
    return {row[0]: tuple(row) for row in db.session.execute(statement)}


def _write_chunk(chunk: list[Values], report: ImportReport) -> None:
    """Insert new residents and update changed ones; count the unchanged."""
    if report.refused or not chunk:
        return  # the import will be rolled back anyway: spare the writes
    existing = _existing_residents([values[0] for values in chunk])
    now = utcnow()
    new = [(*values, now) for values in chunk if values[0] not in existing]
    changed = [
        {"b_nik": values[0], **dict(zip(FIELDS[1:], values[1:], strict=True)), "updated_at": now}
        for values in chunk
        if values[0] in existing and existing[values[0]] != values
    ]
    table = table_of(Resident)
    _insert(new)
    if changed:
        db.session.execute(update(table).where(table.c.nik == bindparam("b_nik")), changed)
    report.imported += len(new)
    report.updated += len(changed)
    report.unchanged += len(chunk) - len(new) - len(changed)


def _insert(rows: list[Values]) -> None:
    """Insert residents: COPY on PostgreSQL (several times faster), executemany elsewhere."""
    connection = db.session.connection()
    if connection.dialect.name != "postgresql" or not rows:
        bulk.insert_rows(table_of(Resident), (*FIELDS, "updated_at"), rows)
        return
    driver = connection.connection.driver_connection
    assert driver is not None
    with driver.cursor() as cursor, cursor.copy(
        f"COPY resident ({', '.join(FIELDS)}, updated_at) FROM STDIN"
    ) as copy:
        for row in rows:
            copy.write_row(row)


class _RowParser:
    """Turns one CSV row into resident values, or raises :class:`RowRefused`."""

    def __init__(self, columns: dict[str, int], desa: frozenset[str]) -> None:
        self.width, self.desa, self.today = len(columns), desa, dt.date.today()
        checks: dict[str, Check] = {
            "nik": self._nik, "tanggal_lahir": self._date, "desa_kode": self._desa,
            "rt": _rt_rw("rt"), "rw": _rt_rw("rw"), "recorded": _yes_no,
            **{name: _text(name, limit, name in REQUIRED) for name, limit in TEXT_LIMITS.items()},
            **{name: _vocab(name, values, name in REQUIRED)
               for name, values in VOCABULARIES.items()},
        }
        # An absent optional column reads index -1: the "" that parse() appends to every row.
        # Columns with few distinct values remember each accepted raw value's result.
        self.plan: list[tuple[int, Check, dict[str, Any] | None]] = [
            (columns.get(SOURCE.get(name, name), -1), checks[name],
             None if name in UNREPEATED else {}) for name in FIELDS]

    def parse(self, row: list[str]) -> Values:
        """Resident values in :data:`FIELDS` order, checked and normalised."""
        if len(row) != self.width:
            raise RowRefused(f"harus {self.width} kolom seperti judul, ada {len(row)}")
        row.append("")
        values: list[Any] = []
        add = values.append
        for index, check, known in self.plan:
            raw = row[index]
            if known is None:
                add(check(raw.strip()))
                continue
            try:
                add(known[raw])
            except KeyError:
                value = check(raw.strip())  # a refused value raises: never remembered
                if len(known) < KNOWN_VALUES:
                    known[raw] = value
                add(value)
        return tuple(values)

    def _nik(self, value: str) -> str:
        plain = len(value) == 16 and value.isascii() and value.isdigit()
        if plain and value[12:] != "0000" and _nik_head_problem(value[:12], self.today) is None:
            return value  # the common case, without parsing the same head again
        try:
            return parse_nik(value, self.today).nik
        except InvalidNik as exc:
            raise RowRefused(f"nik: {exc.message}") from exc

    def _date(self, value: str) -> dt.date:
        return _birth_date(value, self.today)

    def _desa(self, value: str) -> str:
        if value not in self.desa:
            raise RowRefused(f"desa_kode '{value}' tidak dikenal di tabel wilayah "
                             "(impor wilayah dulu: jemput-server import-regions)")
        return value


def _nik_head_problem(head: str, today: dt.date) -> str | None:
    """What is wrong with a NIK's first 12 digits (region, then date), or None.

    The region (6 digits) and the date (6 digits) are checked apart, each against a valid
    other half, so that each cache holds a few thousand entries, not one per resident.
    """
    return _nik_region_problem(head[:6]) or _nik_date_problem(head[6:], today)


@functools.lru_cache(maxsize=1 << 12)
def _nik_region_problem(region: str) -> str | None:
    return _nik_problem(region + NIK_PLAIN_DATE + "0001", dt.date.max)


@functools.lru_cache(maxsize=1 << 17)
def _nik_date_problem(date: str, today: dt.date) -> str | None:
    return _nik_problem(NIK_PLAIN_REGION + date + "0001", today)


def _nik_problem(nik: str, today: dt.date) -> str | None:
    try:
        parse_nik(nik, today)
    except InvalidNik as exc:
        return exc.message
    return None


@functools.lru_cache(maxsize=1 << 16)
def _birth_date(value: str, today: dt.date) -> dt.date:
    """``YYYY-MM-DD`` or SIAK's ``DD-MM-YYYY`` as a plausible birth date."""
    if match := ISO_DATE.match(value):
        year, month, day = match.groups()
    elif match := SIAK_DATE.match(value):
        day, month, year = match.groups()
    else:
        raise RowRefused(f"tanggal_lahir '{value}' harus TTTT-BB-HH atau HH-BB-TTTT")
    try:
        born = dt.date(int(year), int(month), int(day))
    except ValueError as exc:
        raise RowRefused(f"tanggal_lahir '{value}' bukan tanggal yang ada") from exc
    if not OLDEST_BIRTH <= born <= today:
        raise RowRefused(f"tanggal_lahir '{value}' tidak mungkin (masa depan atau < 1880)")
    return born


def _text(name: str, limit: int, required: bool) -> Check:
    """A check for a free-text value within ``limit``; empty optional values become None."""

    def check(value: str) -> str | None:
        if not value:
            if required:
                raise RowRefused(f"{name} wajib diisi")
            return None
        if len(value) > limit:
            raise RowRefused(f"{name} paling banyak {limit} karakter, ada {len(value)}")
        return value

    return check


def _vocab(name: str, values: frozenset[str], required: bool) -> Check:
    """A check for a SIAK vocabulary value (case-insensitive, stored upper-case)."""
    canonical = {value: value for value in values}

    def check(value: str) -> str | None:
        found = canonical.get(value) or canonical.get(value.upper())
        if found is not None:
            return found
        if not value:
            if required:
                raise RowRefused(f"{name} wajib diisi")
            return None
        raise RowRefused(f"{name} '{value}' bukan nilai SIAK yang dikenal")

    return check


def _rt_rw(name: str) -> Check:
    """A check for RT or RW, stored as three digits (``1`` -> ``001``)."""

    def check(value: str) -> str | None:
        if not value:
            return None
        if not RT_RW.match(value):
            raise RowRefused(f"{name} '{value}' harus 1-3 angka")
        return value.zfill(3)

    return check


def _yes_no(value: str) -> bool:
    """``sudah_rekam``: Y/N, ya/tidak, 1/0, true/false (empty: not recorded)."""
    try:
        return YES_NO[value.lower()]
    except KeyError:
        raise RowRefused(
            f"sudah_rekam '{value}' harus Y/N, ya/tidak, 1/0 atau true/false") from None
