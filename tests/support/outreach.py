"""Helpers of the outreach tests: a small desa population, planners, row counts."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Flask
from sqlalchemy import func, select

from server.accounts.actor import Actor
from server.core.extensions import db
from server.core.models import AuditEvent, Change, OutreachTarget, OutreachVisit, Resident
from server.core.timeutil import utcnow
from tests.support.records import DESA, nik_for

PLANNER = Actor("sari", "supervisor")
#: Far enough ahead to never be "past", near enough to keep ages stable.
VISIT_DATE = dt.date(2027, 1, 11)
OTHER_DESA = "61.09.04.2001"  # Nanga Mahap


def resident(nik: str, *, birth: dt.date, desa: str = DESA, recorded: bool = False,
             nama: str = "WARGA", sex: str = "LAKI-LAKI", status: str | None = "BELUM KAWIN",
             ) -> Resident:
    """One registry row."""
    return Resident(nik=nik, nama=nama, tanggal_lahir=birth, jenis_kelamin=sex,
                    alamat="DUSUN TEMBAGA", rt="001", rw="002", desa_kode=desa,
                    status_perkawinan=status, recorded=recorded, updated_at=utcnow())


def populate(app: Flask, unrecorded: int = 3) -> dict[str, list[str]]:
    """Tembaga: ``unrecorded`` targets, one SIAK-recorded adult, one child, one married teen,
    one adult of another desa. Returns the NIKs by group."""
    adult = dt.date(1980, 5, 1)
    groups: dict[str, list[str]] = {
        "targets": [nik_for(adult, "LAKI-LAKI", serial) for serial in range(1, unrecorded + 1)],
        "recorded": [nik_for(adult, "LAKI-LAKI", 900)],
        "child": [nik_for(dt.date(2015, 3, 3), "PEREMPUAN", 901)],
        "married_teen": [nik_for(dt.date(2011, 2, 2), "PEREMPUAN", 902)],
        "elsewhere": [nik_for(adult, "LAKI-LAKI", 903)],
    }
    rows = [resident(nik, birth=adult, nama=f"WARGA {index:04d}")
            for index, nik in enumerate(groups["targets"])]
    rows += [
        resident(groups["recorded"][0], birth=adult, recorded=True),
        resident(groups["child"][0], birth=dt.date(2015, 3, 3), sex="PEREMPUAN"),
        resident(groups["married_teen"][0], birth=dt.date(2011, 2, 2), sex="PEREMPUAN",
                 status="KAWIN", nama="ISTRI MUDA"),
        resident(groups["elsewhere"][0], birth=adult, desa=OTHER_DESA),
    ]
    with app.app_context():
        db.session.add_all(rows)
        db.session.commit()
    groups["targets"].append(groups["married_teen"][0])
    return groups


def outreach_rows(app: Flask) -> dict[str, int]:
    """Visits, targets, feed entries and audit events: proof that a refusal wrote nothing."""
    with app.app_context():
        counts = {
            model.__tablename__: db.session.execute(
                select(func.count()).select_from(model)).scalar_one()
            for model in (OutreachVisit, OutreachTarget, Change, AuditEvent)
        }
        db.session.commit()
        return counts


def plan(app: Flask, device: str, **options: Any) -> str:
    """Plan a visit to Tembaga for ``device`` directly through the service; its id."""
    from server.outreach import visits

    with app.app_context():
        values: dict[str, Any] = {"desa_kode": DESA, "visit_date": VISIT_DATE, "team": "TIM-1",
                                  "device_id": device, "actor": PLANNER,
                                  "today": dt.date(2026, 12, 1)}
        values.update(options)
        return visits.create_visit(**values).id
