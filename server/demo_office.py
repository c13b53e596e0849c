"""The office's side of the demo: a population registry to check against, and what the checks found.

The registry holds the recorded residents plus neighbours not yet recorded, with the kind of
discrepancies a real SIAK export shows: one resident registered under another birth date, one
missing from the registry (moved in, never registered), one spelled with different case and
spacing (which must still match), and one person the team recorded twice.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from server.extensions import db
from server.models import Case
from server.models.case import OPEN
from server.services import population

COLUMNS = ("nik", "nama", "tempat_lahir", "tanggal_lahir", "jenis_kelamin", "golongan_darah",
           "alamat", "rt", "rw", "desa_kode", "agama", "status_perkawinan", "pekerjaan",
           "kewarganegaraan", "sudah_rekam")
#: Positions (in recording order) of the residents the registry disagrees with.
OTHER_BIRTH_DATE, NOT_REGISTERED, SPELLED_DIFFERENTLY = 1, 2, 3


@dataclass(frozen=True)
class OfficeSummary:
    """Registry size and the open cases by kind after the checks ran."""

    residents: int
    open_cases: dict[str, int]


def write_registry(path: Path, recorded: Sequence[dict[str, Any]],
                   neighbours: Sequence[dict[str, Any]]) -> None:
    """A SIAK-style CSV of ``recorded`` (with the demo's discrepancies) and ``neighbours``."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for index, person in enumerate(recorded):
            if index == NOT_REGISTERED:
                continue
            row = dict(person)
            if index == OTHER_BIRTH_DATE:
                born = dt.date.fromisoformat(row["tanggal_lahir"])
                row["tanggal_lahir"] = (born - dt.timedelta(days=366)).isoformat()
            if index == SPELLED_DIFFERENTLY:
                row["nama"] = "  " + row["nama"].title().replace(" ", "  ") + " "
            writer.writerow([*(row[c] for c in COLUMNS[:-1]), "tidak"])
        for person in neighbours:
            writer.writerow([*(person[c] for c in COLUMNS[:-1]), "tidak"])


def import_registry(path: Path) -> int:
    """Import the demo registry; return how many residents it holds."""
    report = population.import_population(path)
    if not report.ok:  # the demo's own file: a refusal is a bug
        raise RuntimeError(f"demo registry refused: {report.refused[:3]}")
    return report.imported + report.updated + report.unchanged


def summary(residents: int) -> OfficeSummary:
    """Open cases by kind, for the demo's closing lines."""
    rows = db.session.execute(
        select(Case.kind, func.count()).where(Case.state == OPEN).group_by(Case.kind)
    ).all()
    db.session.commit()
    return OfficeSummary(residents, dict(Counter({kind: int(n) for kind, n in rows})))
