"""Kemendagri region codes: the bundled Sekadau rows and imports of the national table."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import bindparam, insert, select, update

from server.core.errors import InvalidInput, JemputError
from server.core.extensions import db
from server.core.models import Region
from server.core.models.base import table_of
from server.core.models.region import DESA
from server.registry.csv_files import Progress, Row, open_csv

SEKADAU_CSV = Path(__file__).resolve().parent / "data" / "sekadau_wilayah.csv"
REGION_CODE = re.compile(r"^[0-9]{2}(\.[0-9]{2}(\.[0-9]{2}(\.[0-9]{4})?)?)?$")
MAX_NAMA = 120
CHUNK_ROWS = 5000


@dataclass
class ImportReport:
    """What an import saved (all zero when any row was refused), and the refused lines."""

    imported: int = 0
    updated: int = 0
    unchanged: int = 0
    refused: list[tuple[int, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every row was accepted (and the import was committed)."""
        return not self.refused


def seed_sekadau() -> ImportReport:
    """Load (or refresh) Kalimantan Barat, Kabupaten Sekadau, its 7 kecamatan and 94 desa."""
    report = import_regions(SEKADAU_CSV)
    if not report.ok:  # the bundled file is ours: a refusal is a bug, not a user error
        raise JemputError(f"Data wilayah bawaan rusak: {report.refused[:3]}")
    return report


def import_regions(path: str | Path, progress: Progress | None = None) -> ImportReport:
    """Upsert a Kemendagri ``kode,nama`` CSV in one transaction: all rows or none."""
    try:
        with open_csv(path, progress) as (header, rows):
            report = _import_rows(header, rows)
    except BaseException:
        db.session.rollback()
        raise
    if report.ok:
        db.session.commit()
    else:
        db.session.rollback()
        report.imported = report.updated = report.unchanged = 0  # nothing was saved
    return report


def known_desa(codes: Iterable[str]) -> set[str]:
    """The desa codes among ``codes`` that exist in the region table."""
    wanted = set(codes)
    if not wanted:
        return set()
    rows = db.session.execute(
        select(Region.kode).where(Region.kode.in_(wanted), Region.level == DESA)
    ).scalars()
    return set(rows)


def _import_rows(header: list[str], rows: Iterator[Row]) -> ImportReport:
    """Validate and upsert rows chunk by chunk; stop writing (keep checking) after a refusal."""
    report = ImportReport()
    if [h.strip().lower() for h in header] != ["kode", "nama"]:
        raise InvalidInput("Baris pertama harus berisi judul kolom 'kode,nama'.")
    existing: dict[str, str] = {
        kode: nama for kode, nama in db.session.execute(select(Region.kode, Region.nama))
    }
    seen: dict[str, int] = {}
    orphans: list[tuple[int, str]] = []
    chunk: list[dict[str, object]] = []
    for line, row in rows:
        reason = _check_row(row, seen)
        if reason:
            report.refused.append((line, reason))
            continue
        kode, nama = row[0].strip(), row[1].strip()
        seen[kode] = line
        if "." in kode and kode.rsplit(".", 1)[0] not in seen:
            orphans.append((line, kode))
        chunk.append({"kode": kode, "nama": nama, "level": kode.count(".") + 1})
        if len(chunk) >= CHUNK_ROWS:
            _write_chunk(chunk, existing, report)
            chunk = []
    _write_chunk(chunk, existing, report)
    _check_parents(orphans, seen, existing, report)
    return report


def _check_row(row: list[str], seen: dict[str, int]) -> str | None:
    """Why a row cannot be imported, or None when it is fine."""
    if len(row) != 2:
        return f"harus 2 kolom (kode,nama), ada {len(row)}"
    kode, nama = row[0].strip(), row[1].strip()
    if not REGION_CODE.match(kode):
        return f"kode '{kode}' tidak berbentuk 61, 61.09, 61.09.04 atau 61.09.04.2006"
    if kode in seen:
        return f"kode {kode} ganda (sudah ada di baris {seen[kode]})"
    if not 1 <= len(nama) <= MAX_NAMA:
        return f"nama harus 1-{MAX_NAMA} karakter"
    return None


def _check_parents(
    orphans: list[tuple[int, str]], seen: dict[str, int], existing: dict[str, str],
    report: ImportReport,
) -> None:
    """Refuse rows whose parent region is neither in the file nor already in the table."""
    for line, kode in orphans:
        parent = kode.rsplit(".", 1)[0]
        if parent not in seen and parent not in existing:
            report.refused.append((line, f"kode induk {parent} tidak dikenal"))
    report.refused.sort()


def _write_chunk(
    chunk: list[dict[str, object]], existing: dict[str, str], report: ImportReport
) -> None:
    """Insert new codes and rename changed ones, one executemany each."""
    if report.refused or not chunk:
        return  # the import will be rolled back anyway: spare the writes
    new = [row for row in chunk if row["kode"] not in existing]
    changed = [
        {"b_kode": row["kode"], "nama": row["nama"]}
        for row in chunk
        if row["kode"] in existing and existing[str(row["kode"])] != row["nama"]
    ]
    if new:
        db.session.execute(insert(table_of(Region)), new)
    if changed:
        db.session.execute(
            update(table_of(Region)).where(table_of(Region).c.kode == bindparam("b_kode")),
            changed,
        )
    report.imported += len(new)
    report.updated += len(changed)
    report.unchanged += len(chunk) - len(new) - len(changed)
