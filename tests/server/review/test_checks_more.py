"""Checks, continued: device areas at registration, supersede chains, cases that come back."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import func, select

from server.accounts import devices
from server.core.errors import InvalidInput
from server.core.extensions import db
from server.core.models import Device, Enrollment, RegistrationCode
from server.review import checks
from server.review.findings import DeviceInfo, Row, duplicate_findings, normalise_name
from server.sync.transitions import Move, move_records
from tests.support.checks import Make, Push, cases_of, state_of
from tests.support.records import add_residents

NOW = dt.datetime(2026, 11, 28, tzinfo=dt.UTC)


def codes(app: Flask) -> int:
    with app.app_context():
        return int(db.session.execute(
            select(func.count()).select_from(RegistrationCode)).scalar_one())


def test_device_code_with_a_kecamatan_gives_the_device_its_area(
    app: Flask, client: FlaskClient, runner: FlaskCliRunner
) -> None:
    made = runner.invoke(args=["device-code", "--team", "TIM-2", "--kecamatan", "61.09.04"])
    assert made.exit_code == 0, made.output
    assert "Wilayah tugas: kecamatan 61.09.04." in made.output
    code = made.output.split(": ", 1)[1].split()[0]
    answer = client.post("/api/v1/devices", json={"code": code, "name": "laptop-2"})
    assert answer.status_code == 201, answer.json
    with app.app_context():
        device = db.session.get(Device, answer.json["device_id"])
        assert device is not None and device.kecamatan_kode == "61.09.04"


@pytest.mark.parametrize("kode", ["61.09.99", "61.09.04.2006", "61.09", "nanga mahap", ""])
def test_device_code_refuses_a_kecamatan_not_in_the_region_table(
    app: Flask, runner: FlaskCliRunner, kode: str
) -> None:
    refused = runner.invoke(args=["device-code", "--team", "TIM-2", "--kecamatan", kode])
    assert refused.exit_code == 1
    assert "tidak ada di tabel wilayah" in refused.output and "61.09.04" in refused.output
    assert "Traceback" not in refused.output
    assert codes(app) == 0  # nothing written
    with app.app_context(), pytest.raises(InvalidInput):
        devices.create_registration_code("TIM-2", kecamatan_kode=kode)
    assert codes(app) == 0


def row(record_id: str, nik: str, supersedes: str | None = None, state: str = "complete") -> Row:
    return Row(record_id, "dev", nik, "61.09.04.2006", state, NOW, NOW, supersedes)


def test_a_record_and_the_version_it_supersedes_are_not_duplicates() -> None:
    team = {"dev": DeviceInfo("dev", "laptop", "TIM-1", None)}
    old, new = row("a", "6109045708900001"), row("b", "6109045708900001", supersedes="a")
    assert duplicate_findings([old, new], {"a", "b"}, team) == []
    other = row("c", "6109045708900001")
    [found] = duplicate_findings([old, new, other], {"b"}, team)
    assert found.record_ids == ("b", "c")
    # Only records outside the scope (all settled): no finding to open.
    assert duplicate_findings([row("d", "1"), row("e", "1")], set(), team) == []


@pytest.mark.parametrize("left, right", [
    ("MARIA GORETTI", " maría  GORÉTTI "), ("YOHANES  BOSCO", "Yohanes Bosco"),
    ("ŞITI ÑUR", "SITI NUR"),
])
def test_names_compare_without_accents_case_or_spacing(left: str, right: str) -> None:
    assert normalise_name(left) == normalise_name(right)


def test_a_case_the_system_cleared_comes_back_when_its_finding_does(
    app: Flask, push: Push, make_record: Make, client: FlaskClient, register: Any
) -> None:
    first, second = make_record(attachments=0), make_record(attachments=0, serial=1)
    add_residents(app, first)
    push([first, second])
    [pair] = cases_of(app)
    _, token = register("laptop-2", team="TIM-2")
    third = make_record(seq=1, attachments=0, serial=1)
    push([third], headers={"Authorization": f"Bearer {token}"})
    pair_now, triple = cases_of(app)
    assert (pair_now["id"], pair_now["resolution"]) == (pair["id"], "cleared")
    assert triple["state"] == "open" and len(triple["records"]) == 3
    with app.app_context():  # the office rejects the third recording
        device_id = db.session.get(Enrollment, third["id"]).device_id  # type: ignore[union-attr]
        move_records([Move(third["id"], device_id, "needs_review", "rejected", "salah")],
                     actor="reviewer", action="test")
        db.session.commit()
        report = checks.run_checks()
    assert (report.cases_opened, report.cases_cleared) == (1, 1)
    pair_again, triple_now = cases_of(app)
    assert (pair_again["id"], pair_again["state"], pair_again["resolution"]) == (
        pair["id"], "open", None)
    assert triple_now["resolution"] == "cleared"
    assert state_of(app, first["id"]) == state_of(app, second["id"]) == "needs_review"


def test_concurrent_check_runs_open_each_case_once(
    app: Flask, push: Push, make_record: Make, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(checks, "run_checks", lambda ids=None: checks.CheckReport())
    records = [make_record(attachments=0, serial=1) for _ in range(4)]  # one NIK, four times
    push(records)
    monkeypatch.undo()
    ids = [record["id"] for record in records]
    errors: list[BaseException] = []

    def run(part: list[str]) -> None:
        with app.app_context():
            try:
                checks.run_checks(part)
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

    workers = [threading.Thread(target=run, args=(part,)) for part in (ids[:2], ids[2:], ids)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert errors == []
    kinds = sorted(case["kind"] for case in cases_of(app) if case["state"] == "open")
    assert kinds == ["duplicate_nik"] + ["not_in_registry"] * 4
    assert {state_of(app, i) for i in ids} == {"needs_review"}
