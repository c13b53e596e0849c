"""The office's side of the demo: what the checks found in the records that arrived."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from sqlalchemy import func, select

from server.core.extensions import db
from server.core.models import Case
from server.core.models.case import OPEN


@dataclass(frozen=True)
class OfficeSummary:
    """Registry size and the open cases by kind after the checks ran."""

    residents: int
    open_cases: dict[str, int]


def summary(residents: int) -> OfficeSummary:
    """Open cases by kind, for the demo's closing lines."""
    rows = db.session.execute(
        select(Case.kind, func.count()).where(Case.state == OPEN).group_by(Case.kind)
    ).all()
    db.session.commit()
    return OfficeSummary(residents, dict(Counter({kind: int(n) for kind, n in rows})))
