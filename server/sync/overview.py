"""What has arrived: enrollment counts per state and per desa, for one device or for all."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select

from server.core.extensions import db
from server.core.models import Enrollment, Region


@dataclass(frozen=True)
class Arrivals:
    """Enrollments on the server, counted."""

    total: int
    by_state: dict[str, int]
    by_desa: list[tuple[str, str, int]] = field(default_factory=list)  # (kode, nama, count)


def arrivals(device_id: str | None = None) -> Arrivals:
    """Count stored enrollments by state and by desa, for ``device_id`` or for every device."""
    scope = [] if device_id is None else [Enrollment.device_id == device_id]
    states = db.session.execute(
        select(Enrollment.state, func.count()).where(*scope).group_by(Enrollment.state)
    ).all()
    desa = db.session.execute(
        select(Enrollment.desa_kode, Region.nama, func.count())
        .join(Region, Region.kode == Enrollment.desa_kode, isouter=True)
        .where(*scope)
        .group_by(Enrollment.desa_kode, Region.nama)
        .order_by(Enrollment.desa_kode)
    ).all()
    by_state = {state: int(count) for state, count in states}
    return Arrivals(
        total=sum(by_state.values()),
        by_state=by_state,
        by_desa=[(kode, nama or "?", int(count)) for kode, nama, count in desa],
    )
