"""Planning a visit, its feed entries, and the device's target list endpoint."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import threading
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from server.accounts import devices
from server.accounts.actor import Actor
from server.core.errors import Conflict, Forbidden, InvalidInput
from server.core.extensions import db
from server.core.models import AuditEvent, Change, Device, OutreachTarget
from server.outreach import visits as outreach
from shared import datakey
from shared.sealing import unb64
from tests.support.outreach import (
    OTHER_DESA,
    PLANNER,
    VISIT_DATE,
    outreach_rows,
    plan,
    populate,
    resident,
)
from tests.support.records import DESA, nik_for
from tests.support.server_app import assert_problem

TODAY = dt.date(2026, 12, 1)


def opened_targets(app: Flask, device_id: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    """The targets of a list answer, opened with the device's data key (as its operators do)."""
    assert "targets" not in body  # nothing of the residents travels in clear
    with app.app_context():
        device = db.session.get(Device, device_id)
        assert device is not None
        key = devices.device_data_key(device)
    targets: list[dict[str, Any]] = datakey.decrypt_json(key, unb64(body["sealed"]))["targets"]
    return targets


def test_create_visit_snapshots_targets_and_feeds_the_device(
    app: Flask, client: FlaskClient, device: tuple[str, str]
) -> None:
    groups = populate(app)
    visit_id = plan(app, device[0], days=2)
    with app.app_context():
        targets = set(db.session.execute(
            select(OutreachTarget.nik).where(OutreachTarget.visit_id == visit_id)).scalars())
        info = outreach.visit_info(visit_id)
        event = db.session.execute(select(AuditEvent)).scalar_one()
    assert targets == set(groups["targets"])  # married teen in; recorded, child, elsewhere out
    assert info.target_count == 4 and info.state == "planned"
    assert info.ends_on == VISIT_DATE + dt.timedelta(days=1)
    assert info.desa_nama and info.kecamatan_kode == "61.09.04" and info.kecamatan_nama
    assert event.action == "outreach_plan" and event.actor == "user:sari"
    assert event.detail and event.detail["targets"] == 4
    pulled = client.get("/api/v1/sync/pull?since=0",
                        headers={"Authorization": f"Bearer {device[1]}"}).json
    assert [(c["kind"], c["visit_id"], c["state"], c["record_id"]) for c in pulled["changes"]] \
        == [("outreach_assigned", visit_id, "planned", None)]


def test_device_fetches_its_target_list(app: Flask, client: FlaskClient,
                                        device: tuple[str, str]) -> None:
    groups = populate(app)
    visit_id = plan(app, device[0])
    answer = client.get(f"/api/v1/outreach/visits/{visit_id}/targets",
                        headers={"Authorization": f"Bearer {device[1]}"})
    assert answer.status_code == 200
    body = answer.json
    assert body["visit"] == {
        "id": visit_id, "desa_kode": DESA, "desa_nama": body["visit"]["desa_nama"],
        "kecamatan_kode": "61.09.04", "kecamatan_nama": body["visit"]["kecamatan_nama"],
        "visit_date": "2027-01-11", "ends_on": "2027-01-11", "days": 1, "team": "TIM-1",
        "state": "planned", "target_count": 4}
    targets = opened_targets(app, device[0], body)
    assert {t["nik"] for t in targets} == set(groups["targets"])
    assert not any(t["nik"] in answer.get_data(as_text=True) for t in targets)
    first = targets[0]
    assert set(first) == {"nik", "nama", "tanggal_lahir", "jenis_kelamin", "alamat", "rt", "rw"}
    assert first["tanggal_lahir"] in ("1980-05-01", "2011-02-02")
    assert answer.headers["Cache-Control"] == "no-store"


def test_large_list_is_gzipped_when_accepted(app: Flask, client: FlaskClient,
                                             device: tuple[str, str]) -> None:
    populate(app, unrecorded=200)
    visit_id = plan(app, device[0])
    headers = {"Authorization": f"Bearer {device[1]}", "Accept-Encoding": "gzip"}
    answer = client.get(f"/api/v1/outreach/visits/{visit_id}/targets", headers=headers)
    assert answer.headers["Content-Encoding"] == "gzip"
    body = json.loads(gzip.decompress(answer.get_data()))
    assert len(opened_targets(app, device[0], body)) == 201 == body["visit"]["target_count"]
    plain = client.get(f"/api/v1/outreach/visits/{visit_id}/targets",
                       headers={"Authorization": f"Bearer {device[1]}"})
    assert "Content-Encoding" not in plain.headers
    assert opened_targets(app, device[0], plain.json) == opened_targets(app, device[0], body)


def test_target_list_refusals(app: Flask, client: FlaskClient,
                              register: Callable[..., tuple[str, str]]) -> None:
    populate(app)
    mine, other = register("laptop-1"), register("laptop-2", "TIM-2")
    visit_id = plan(app, mine[0])
    url = f"/api/v1/outreach/visits/{visit_id}/targets"
    problem = assert_problem(client.get(url, headers={"Authorization": f"Bearer {other[1]}"}),
                             403, "not_assigned")
    assert "perangkat lain" in problem["detail"]
    assert_problem(client.get(url), 401, "unauthorized")
    assert_problem(client.get("/api/v1/outreach/visits/nope/targets",
                              headers={"Authorization": f"Bearer {mine[1]}"}), 404, "not_found")
    assert_problem(client.get(f"/api/v1/outreach/visits/{'x' * 300}/targets",
                              headers={"Authorization": f"Bearer {mine[1]}"}), 404, "not_found")
    with app.app_context():
        outreach.close_visit(visit_id, actor=PLANNER)
    assert_problem(client.get(url, headers={"Authorization": f"Bearer {mine[1]}"}),
                   410, "visit_closed")
    # Another device still gets 403 for a closed visit: the state is none of its business.
    assert_problem(client.get(url, headers={"Authorization": f"Bearer {other[1]}"}),
                   403, "not_assigned")


@pytest.mark.parametrize(("options", "field"), [
    ({"desa_kode": "61.09.99.9999"}, "desa_kode"),
    ({"desa_kode": "61.09.04"}, "desa_kode"),  # a kecamatan, not a desa
    ({"desa_kode": "61.09.04.2006'; DROP TABLE region;--"}, "desa_kode"),
    ({"visit_date": TODAY - dt.timedelta(days=1)}, "visit_date"),
    ({"days": 0}, "days"),
    ({"days": 15}, "days"),
    ({"team": "   "}, "team"),
    ({"team": "T" * 121}, "team"),
    ({"device_id": "00000000-0000-0000-0000-000000000000"}, "device_id"),
])
def test_create_visit_refuses_bad_input(app: Flask, device: tuple[str, str],
                                        options: dict[str, object], field: str) -> None:
    populate(app)
    before = outreach_rows(app)
    with pytest.raises(InvalidInput) as refused:
        plan(app, device[0], **options)
    assert refused.value.errors and field in refused.value.errors
    assert outreach_rows(app) == before


def test_create_visit_refuses_revoked_device_and_viewer(app: Flask,
                                                       device: tuple[str, str]) -> None:
    populate(app)
    before = outreach_rows(app)
    with pytest.raises(Forbidden):
        plan(app, device[0], actor=Actor("vera", "viewer"))
    with pytest.raises(Forbidden):
        plan(app, device[0], actor=Actor("rina", "reviewer"))
    with app.app_context():
        devices.revoke_device(device[0])
    with pytest.raises(InvalidInput, match="dicabut"):
        plan(app, device[0])
    assert outreach_rows(app) == before


def test_visit_today_is_fine_but_overlap_is_a_conflict(app: Flask,
                                                       device: tuple[str, str]) -> None:
    populate(app)
    plan(app, device[0], visit_date=TODAY, days=3)
    before = outreach_rows(app)
    with pytest.raises(Conflict, match="sudah punya kunjungan"):
        plan(app, device[0], visit_date=TODAY + dt.timedelta(days=2))
    assert outreach_rows(app) == before
    plan(app, device[0], visit_date=TODAY + dt.timedelta(days=3))  # the day after: fine
    plan(app, device[0], visit_date=TODAY, desa_kode=OTHER_DESA)  # another desa: fine


def test_close_and_cancel(app: Flask, client: FlaskClient, device: tuple[str, str]) -> None:
    populate(app)
    closing, cancelling = plan(app, device[0]), plan(app, device[0], desa_kode=OTHER_DESA)
    with app.app_context():
        assert outreach.close_visit(closing, actor=PLANNER).state == "closed"
        assert outreach.close_visit(cancelling, actor=PLANNER, cancel=True).state == "cancelled"
    before = outreach_rows(app)
    with app.app_context():
        with pytest.raises(Conflict, match="sudah ditutup"):
            outreach.close_visit(closing, actor=PLANNER)
        with pytest.raises(Forbidden):
            outreach.close_visit(cancelling, actor=Actor("vera", "viewer"))
    assert outreach_rows(app) == before
    with app.app_context():
        feed = db.session.execute(select(Change.kind, Change.visit_id, Change.state)
                                  .order_by(Change.id)).all()
        actions = db.session.execute(select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert [tuple(row) for row in feed] == [
        ("outreach_assigned", closing, "planned"), ("outreach_assigned", cancelling, "planned"),
        ("outreach_closed", closing, "closed"), ("outreach_closed", cancelling, "cancelled")]
    assert [row[0] for row in actions] == ["outreach_plan", "outreach_plan", "outreach_close",
                                           "outreach_cancel"]


def test_two_planners_at_once_get_one_visit_per_desa(
    app: Flask, register: Callable[..., tuple[str, str]]
) -> None:
    populate(app)
    devices_ = [register("laptop-1")[0], register("laptop-2", "TIM-2")[0]]
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def plan_one(device_id: str) -> None:
        barrier.wait()
        try:
            plan(app, device_id)  # its own app context, session and connection
            outcomes.append("planned")
        except Conflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=plan_one, args=(d,)) for d in devices_]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["conflict", "planned"]
    counts = outreach_rows(app)
    assert (counts["outreach_visit"], counts["outreach_target"], counts["change"]) == (1, 4, 1)


def test_a_resident_turning_17_during_the_visit_is_on_its_list(
    app: Flask, device: tuple[str, str]
) -> None:
    populate(app)
    birthday = VISIT_DATE + dt.timedelta(days=1)  # 17 on the visit's second day
    teen = nik_for(birthday.replace(year=birthday.year - 17), "LAKI-LAKI", 950)
    with app.app_context():
        db.session.add(resident(teen, birth=birthday.replace(year=birthday.year - 17)))
        db.session.commit()
    day_trip = plan(app, device[0])
    with app.app_context():
        outreach.close_visit(day_trip, actor=PLANNER)
    two_days = plan(app, device[0], days=2)
    with app.app_context():
        listed = {visit: set(db.session.execute(
            select(OutreachTarget.nik).where(OutreachTarget.visit_id == visit)).scalars())
            for visit in (day_trip, two_days)}
    assert teen not in listed[day_trip]
    assert teen in listed[two_days]
