"""Which desa next (ranking), the visit list, and a visit's progress as records arrive."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask

from server.core.errors import InvalidInput, NotFound
from server.core.extensions import db
from server.core.models import Resident
from server.core.timeutil import utcnow
from server.outreach import visits
from tests.support.outreach import OTHER_DESA, PLANNER, VISIT_DATE, plan, populate
from tests.support.records import DESA, build_record

AT = dt.date(2026, 12, 1)


def test_ranking_most_unrecorded_first_then_longest_unvisited(
    app: Flask, register: Callable[..., tuple[str, str]]
) -> None:
    populate(app, unrecorded=3)  # Tembaga: 4 unrecorded; Nanga Mahap: 1
    device_id = register()[0]
    with app.app_context():
        ranked = visits.ranking(AT, "61.09.04")
    assert [(r.desa_kode, r.not_recorded) for r in ranked[:2]] == [(DESA, 4), (OTHER_DESA, 1)]
    assert all(r.kecamatan_kode == "61.09.04" for r in ranked)
    assert ranked[0].last_visit is None and ranked[0].days_since_last_visit is None
    assert ranked[0].desa_nama and ranked[0].kecamatan_nama
    zero = [r.desa_kode for r in ranked[2:]]
    assert zero == sorted(zero) and len(ranked) > 2  # no residents, never visited: code order

    # Two desa with one unrecorded each: the one visited earlier outranks the recent one,
    # and both come after the desa never visited.
    with app.app_context():
        third = ranked[2].desa_kode
        fourth = ranked[3].desa_kode
        for kode, serial in ((third, 501), (fourth, 502)):
            db.session.add(Resident(nik=f"6109040105{serial:06d}", nama="X",
                                    tanggal_lahir=dt.date(1970, 5, 1), jenis_kelamin="LAKI-LAKI",
                                    desa_kode=kode, recorded=False, updated_at=utcnow()))
        db.session.commit()
    old = plan(app, device_id, desa_kode=third, visit_date=dt.date(2026, 10, 1),
               today=dt.date(2026, 9, 1))
    recent = plan(app, device_id, desa_kode=fourth, visit_date=dt.date(2026, 11, 20),
                  today=dt.date(2026, 9, 1))
    cancelled = plan(app, device_id, desa_kode=OTHER_DESA, visit_date=dt.date(2026, 11, 25),
                     today=dt.date(2026, 9, 1))
    upcoming = plan(app, device_id, visit_date=VISIT_DATE)
    with app.app_context():
        visits.close_visit(old, actor=PLANNER)
        visits.close_visit(cancelled, actor=PLANNER, cancel=True)
        ranked = visits.ranking(AT, "61.09.04")
    order = [(r.desa_kode, r.last_visit, r.days_since_last_visit) for r in ranked[:4]]
    assert order == [(DESA, None, None), (OTHER_DESA, None, None),  # cancelled: not a visit
                     (third, dt.date(2026, 10, 1), 61), (fourth, dt.date(2026, 11, 20), 11)]
    assert ranked[0].planned_visit is not None and ranked[0].planned_visit.id == upcoming
    assert ranked[3].planned_visit is not None and ranked[3].planned_visit.id == recent
    assert ranked[1].planned_visit is None


def test_ranking_over_the_regency_and_bad_regions(app: Flask) -> None:
    populate(app)
    with app.app_context():
        assert len(visits.ranking(AT)) == 94
        assert [r.desa_kode for r in visits.ranking(AT, DESA)] == [DESA]
        with pytest.raises(NotFound):
            visits.ranking(AT, "61.09.99")
        with pytest.raises(InvalidInput):
            visits.ranking(AT, "61.09.04'--")


def test_progress_moves_as_targets_get_recorded(
    app: Flask, device: tuple[str, str], push: Callable[..., Any]
) -> None:
    groups = populate(app, unrecorded=3)
    visit_id = plan(app, device[0])
    with app.app_context():
        before = visits.visit_progress(visit_id)
    assert (before.done, before.records, before.percent) == (0, 0, Decimal("0.00"))
    assert len(before.targets) == 4 and not any(t["done"] for t in before.targets)
    assert set(before.targets[0]) == {"nik", "nama", "tanggal_lahir", "jenis_kelamin",
                                      "alamat", "rt", "rw", "done"}
    record = build_record(1, attachments=0, sex="LAKI-LAKI", birth=dt.date(1980, 5, 1),
                          serial=1)
    assert record["payload"]["nik"] == groups["targets"][0]
    assert push([record]).status_code == 200
    with app.app_context():  # SIAK says a second one was recorded meanwhile
        db.session.get(Resident, groups["targets"][1]).recorded = True  # type: ignore[union-attr]
        db.session.commit()
        after = visits.visit_progress(visit_id)
    assert (after.done, after.records, after.percent) == (2, 1, Decimal("50.00"))
    assert [t["done"] for t in after.targets] == [False, False, True, True]  # open ones first
    with app.app_context(), pytest.raises(NotFound):
        visits.visit_progress("no-such-visit")


def test_records_captured_after_the_visit_closed_do_not_count_for_it(
    app: Flask, device: tuple[str, str], push: Callable[..., Any]
) -> None:
    groups = populate(app, unrecorded=3)
    visit_id = plan(app, device[0])
    with app.app_context():
        closed_at = visits.close_visit(visit_id, actor=PLANNER).closed_at
    assert closed_at is not None
    later = (closed_at + dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    record = build_record(1, attachments=0, sex="LAKI-LAKI", birth=dt.date(1980, 5, 1),
                          serial=1, captured_at=later)
    assert record["payload"]["nik"] == groups["targets"][0]
    assert push([record]).status_code == 200
    with app.app_context():
        progress = visits.visit_progress(visit_id)
    assert (progress.done, progress.records) == (1, 0)  # recorded, but not on this visit


def test_visits_list(app: Flask, device: tuple[str, str]) -> None:
    populate(app)
    later = plan(app, device[0], visit_date=VISIT_DATE + dt.timedelta(days=5))
    first = plan(app, device[0], desa_kode=OTHER_DESA)
    with app.app_context():
        visits.close_visit(later, actor=PLANNER)
        assert [v.id for v in visits.visits()] == [first, later]
        assert [v.id for v in visits.visits(newest_first=True, limit=1)] == [later]
        assert [v.id for v in visits.visits(state="planned")] == [first]
        assert [v.id for v in visits.visits(desa_kode=DESA)] == [later]
        assert visits.visits()[0].device_name == "laptop-1"
