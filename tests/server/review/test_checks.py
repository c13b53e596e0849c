"""Reconciliation checks: findings become cases, records become verified or needs_review."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import func, select, update

from server.core import audit
from server.core.extensions import db
from server.core.models import AuditEvent, Case, CaseRecord, Change, Device, Enrollment
from server.review import checks
from server.sync.transitions import Move, move_records
from tests.support.checks import Make, Push, cases_of, state_of
from tests.support.records import add_residents, nik_for

Register = Callable[..., tuple[str, str]]


def counts(app: Flask) -> tuple[int, int, int, int]:
    """Rows in case, case_record, change and audit_event: a run that changes nothing adds none."""
    with app.app_context():
        return tuple(  # type: ignore[return-value]
            db.session.execute(select(func.count()).select_from(model)).scalar_one()
            for model in (Case, CaseRecord, Change, AuditEvent))


def run(app: Flask, record_ids: list[str] | None = None) -> checks.CheckReport:
    with app.app_context():
        return checks.run_checks(record_ids)


def test_a_registered_resident_is_verified_even_with_accents_and_spacing(
    app: Flask, push: Push, make_record: Make
) -> None:
    plain = make_record(attachments=0)
    spelled = make_record(attachments=0, payload={"nama": "MARIA  GORETTI"})
    registry_spelling = make_record(attachments=0, serial=spelled["seq"],
                                    payload={"nama": " María   Gorétti "}, hashed=False)
    add_residents(app, plain, registry_spelling)
    push([plain, spelled])
    assert state_of(app, plain["id"]) == state_of(app, spelled["id"]) == "verified"
    assert cases_of(app) == []
    before = counts(app)
    report = run(app)
    assert (report.checked, report.verified, report.needs_review) == (2, 0, 0)
    assert (report.cases_opened, report.cases_cleared) == (0, 0)
    assert counts(app) == before  # a re-run on unchanged data writes nothing
    with app.app_context():
        trail = audit.events_for_record(plain["id"])
    assert [(e.actor, e.action, e.from_state, e.to_state) for e in trail] == [
        ("system", "checks", "complete", "verified")]


def test_not_in_registry_goes_to_review_and_clears_once_registered(
    app: Flask, push: Push, make_record: Make, runner: FlaskCliRunner
) -> None:
    record = make_record(attachments=0)
    push([record])
    assert state_of(app, record["id"]) == "needs_review"
    [case] = cases_of(app)
    assert (case["kind"], case["state"], case["records"]) == (
        "not_in_registry", "open", [record["id"]])
    assert record["payload"]["nik"] in case["explanation"]
    assert (case["team"], case["desa_kode"]) == ("TIM-1", "61.09.04.2006")
    with app.app_context():
        stored = db.session.get(Enrollment, record["id"])
        assert stored is not None and "tidak ada di data penduduk" in str(stored.state_reason)
    add_residents(app, record)
    done = runner.invoke(args=["run-checks"])
    assert done.exit_code == 0, done.output
    assert "Rekaman diperiksa: 1" in done.output
    assert "Menjadi terverifikasi: 1" in done.output and "kasus selesai sendiri: 1" in done.output
    assert state_of(app, record["id"]) == "verified"
    [case] = cases_of(app)
    assert (case["state"], case["resolution"], case["resolved_by"]) == (
        "resolved", "cleared", "system")
    with app.app_context():
        cleared = db.session.execute(
            select(AuditEvent).where(AuditEvent.action == "case_cleared")).scalar_one()
        assert cleared.case_id == case["id"] and cleared.actor == "system"
        assert audit.verify_chain().ok


def test_registry_mismatch_explains_the_difference_with_the_nik_date_as_a_hint(
    app: Flask, push: Push, make_record: Make
) -> None:
    record = make_record(attachments=0)
    registered = make_record(attachments=0, serial=record["seq"],
                             payload={"tanggal_lahir": "1990-08-18", "nama": "MARIA GORETI"})
    add_residents(app, registered)
    push([record])
    [case] = cases_of(app)
    assert case["kind"] == "registry_mismatch"
    text = case["explanation"]
    assert "17-08-1990" in text and "18-08-1990" in text and "MARIA GORETI" in text
    assert "Petunjuk: tanggal lahir dalam NIK 17-08-90" in text
    assert state_of(app, record["id"]) == "needs_review"


def test_a_nik_from_a_kecamatan_missing_in_the_region_table(
    app: Flask, push: Push, make_record: Make
) -> None:
    nik = nik_for(dt.date(1990, 8, 17), "PEREMPUAN", 1, kecamatan="617101")  # Pontianak
    record = make_record(attachments=0, payload={"nik": nik})
    add_residents(app, record)
    push([record])
    [case] = cases_of(app)
    assert case["kind"] == "nik_invalid"
    assert "61.71.01" in case["explanation"] and "tabel wilayah" in case["explanation"]


def test_the_same_nik_from_two_teams_is_one_duplicate_case(
    app: Flask, client: FlaskClient, push: Push, make_record: Make, register: Register
) -> None:
    mine = make_record(attachments=0)
    add_residents(app, mine)
    push([mine])
    assert state_of(app, mine["id"]) == "verified"
    _, token = register("laptop-2", team="TIM-2")
    theirs = make_record(seq=1, attachments=0)  # same NIK (serial follows seq)
    answer = push([theirs], headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200
    [case] = cases_of(app)
    assert case["kind"] == "duplicate_nik"
    assert sorted(case["records"]) == sorted([mine["id"], theirs["id"]])
    assert "tim TIM-1" in case["explanation"] and "tim TIM-2" in case["explanation"]
    # The incremental run after the push also moved the partner that was verified.
    assert state_of(app, mine["id"]) == state_of(app, theirs["id"]) == "needs_review"
    with app.app_context():
        trail = audit.events_for_record(mine["id"])
    assert [(e.from_state, e.to_state) for e in trail] == [
        ("complete", "verified"), ("verified", "needs_review")]


def test_a_settled_partner_clears_the_case_and_the_other_is_verified(
    app: Flask, push: Push, make_record: Make
) -> None:
    first, second = make_record(attachments=0), make_record(attachments=0, serial=1)
    add_residents(app, first)
    push([first, second])
    [case] = cases_of(app)
    assert case["kind"] == "duplicate_nik"
    with app.app_context():
        device_id = db.session.get(Enrollment, second["id"]).device_id  # type: ignore[union-attr]
        move_records([Move(second["id"], device_id, "needs_review", "rejected", "ganda")],
                     actor="reviewer", action="test")
        db.session.commit()
    report = run(app)
    assert report.cases_cleared == 1 and report.verified == 1
    assert [c["state"] for c in cases_of(app)] == ["resolved"]
    assert state_of(app, first["id"]) == "verified"
    assert state_of(app, second["id"]) == "rejected"


def test_a_case_a_person_resolved_is_never_reopened(
    app: Flask, push: Push, make_record: Make
) -> None:
    record = make_record(attachments=0)
    push([record])
    [case] = cases_of(app)
    with app.app_context():
        db.session.execute(update(Case).where(Case.id == case["id"]).values(
            state="resolved", resolution="approved", resolved_by="reviewer"))
        db.session.commit()
    before = counts(app)
    report = run(app)
    assert report.cases_opened == 0 and report.verified == 1  # no open case left
    assert counts(app)[:2] == before[:2]
    assert [c["resolution"] for c in cases_of(app)] == ["approved"]


def test_outside_the_device_kecamatan(
    app: Flask, push: Push, make_record: Make, device: tuple[str, str]
) -> None:
    with app.app_context():
        db.session.execute(update(Device).where(Device.id == device[0])
                           .values(kecamatan_kode="61.09.01"))
        db.session.commit()
    record = make_record(attachments=0)  # desa 61.09.04.2006
    add_residents(app, record)
    push([record])
    [case] = cases_of(app)
    assert case["kind"] == "outside_area"
    assert "61.09.04.2006" in case["explanation"] and "61.09.01" in case["explanation"]


@pytest.mark.parametrize("captured_at, words", [
    ("2099-01-01T00:00:00Z", "setelah rekaman diterima"),
    ("2020-01-01T00:00:00Z", "lebih dari setahun sebelum"),
])
def test_captured_at_in_the_future_or_long_ago(
    app: Flask, push: Push, make_record: Make, captured_at: str, words: str
) -> None:
    record = make_record(attachments=0, captured_at=captured_at)
    add_residents(app, record)
    push([record])
    [case] = cases_of(app)
    assert case["kind"] == "captured_at_implausible" and words in case["explanation"]


def test_a_sequence_gap_is_a_device_case_that_clears_when_filled(
    app: Flask, push: Push, make_record: Make, device: tuple[str, str]
) -> None:
    one, three = make_record(seq=1, attachments=0), make_record(seq=3, attachments=0)
    add_residents(app, one, three)
    push([one, three])
    [gap] = cases_of(app)
    assert (gap["kind"], gap["device_id"], gap["records"]) == ("sequence_gap", device[0], [])
    assert "nomor urut 2 " in gap["explanation"]
    assert state_of(app, one["id"]) == state_of(app, three["id"]) == "verified"  # no effect
    two = make_record(seq=2, attachments=0)
    add_residents(app, two)
    push([two])
    [gap] = cases_of(app)
    assert (gap["state"], gap["resolution"]) == ("resolved", "cleared")


def test_incremental_run_checks_only_the_given_records(
    app: Flask, push: Push, make_record: Make, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(checks, "check", lambda ids=None, **_: checks.CheckReport())
    first, second = make_record(attachments=0), make_record(attachments=0)
    push([first, second])
    monkeypatch.undo()
    assert state_of(app, first["id"]) == state_of(app, second["id"]) == "complete"
    report = run(app, [first["id"]])
    assert report.checked == 1
    assert (state_of(app, first["id"]), state_of(app, second["id"])) == (
        "needs_review", "complete")


def test_a_failing_check_leaves_records_complete_for_run_checks(
    app: Flask, push: Push, make_record: Make, runner: FlaskCliRunner,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from sqlalchemy.exc import OperationalError

    def locked(ids: Any = None, **_: Any) -> Any:
        raise OperationalError("UPDATE audit_head", {}, Exception("database is locked"))

    monkeypatch.setattr(checks, "check", locked)
    record = make_record(attachments=0)
    answer = push([record])
    assert answer.status_code == 200 and answer.json["results"][0]["status"] == "accepted"
    assert state_of(app, record["id"]) == "complete"
    assert cases_of(app) == []
    with app.app_context():  # the checks' job waits for its retry, saying why
        from server.core.jobs import queue

        (job,) = queue.recent()
    assert (job.kind, job.state, job.attempts) == ("check_records", "queued", 1)
    assert job.error and "OperationalError" in job.error and job.run_after > job.created_at
    monkeypatch.undo()
    unknown = runner.invoke(args=["run-checks", "--record", record["id"], "--record", "bogus"])
    assert unknown.exit_code == 1 and "Rekaman tidak ditemukan: bogus" in unknown.output
    assert state_of(app, record["id"]) == "complete"  # nothing was checked
    done = runner.invoke(args=["run-checks", "--record", record["id"]])
    assert done.exit_code == 0 and "Rekaman diperiksa: 1" in done.output
    assert state_of(app, record["id"]) == "needs_review"
