"""The stored coverage summary: equal to a full live recount, and refreshed when it falls behind."""

from __future__ import annotations

import datetime as dt
import random
import uuid
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update

from server.core.extensions import db
from server.core.jobs import runner
from server.core.models import CoverageRefresh, Enrollment, Job, Region, Resident
from server.core.models.base import table_of
from server.core.models.job import DONE, QUEUED
from server.core.models.region import DESA, KECAMATAN, PROVINCE, REGENCY
from server.core.timeutil import office_today, utcnow
from server.coverage import counts, summary
from server.coverage import figures as coverage
from server.demo.residents import desa_of
from server.registry.wajib import EVER_MARRIED
from shared.protocol import ServerState
from tests.support.office import login, token_for
from tests.support.records import nik_for

SOME_KECAMATAN = ("61.09.01", "61.09.04", "61.09.07")
STATUSES = (None, "BELUM KAWIN", *EVER_MARRIED)
STATES = tuple(state.value for state in ServerState)


def random_data(app: Flask, device_id: str, seed: int, people: int = 400) -> None:
    """Residents of every age around 17 and records in every state, received over 40 days."""
    rng = random.Random(seed)
    now, today = utcnow(), office_today()
    with app.app_context():
        seq = 0
        for serial in range(1, people + 1):
            # Ages cluster around 17, so the wajib and turning-17 edges are exercised.
            born = today - dt.timedelta(days=rng.choice((
                rng.randint(0, 40 * 365), 17 * 365 + rng.randint(-120, 120))))
            nik = nik_for(born, "LAKI-LAKI", serial)
            desa = rng.choice(desa_of(rng.choice(SOME_KECAMATAN)))
            db.session.add(Resident(nik=nik, nama=f"WARGA {serial}", tanggal_lahir=born,
                                    jenis_kelamin="LAKI-LAKI", desa_kode=desa,
                                    status_perkawinan=rng.choice(STATUSES),
                                    recorded=rng.random() < 0.4, updated_at=now))
            for _ in range(rng.choice((0, 0, 1, 1, 2, 3))):
                seq += 1
                received = now - dt.timedelta(minutes=rng.randint(0, 40 * 24 * 60))
                db.session.add(Enrollment(
                    id=str(uuid.uuid4()), device_id=device_id, seq=seq, type="enrollment",
                    captured_at=received, operator="op", nik=nik, desa_kode=desa, payload={},
                    exceptions=[], warnings=[], record_sha256="0" * 64,
                    state=rng.choice(STATES), received_at=received, state_changed_at=received))
        db.session.commit()


def as_tuple(row: counts.CoverageRow) -> tuple[Any, ...]:
    return (row.wajib, row.recorded_siak, row.recorded_jemput, row.turning_17,
            dict(sorted(row.jemput_by_state.items())))


def refreshed(app: Flask) -> None:
    with app.app_context():
        summary.refresh()
        db.session.commit()


@pytest.mark.parametrize("seed", [1, 2])
def test_summary_equals_a_full_recount(app: Flask, device: tuple[str, str], seed: int) -> None:
    random_data(app, device[0], seed)
    refreshed(app)
    today = office_today()
    with app.app_context():
        stored = summary.region_counts(None)
        live = counts.desa_counts(today, None)
        assert {k: as_tuple(v) for k, v in stored.items() if v.level == "desa"} == \
            {k: as_tuple(v) for k, v in live.items()}
        for kode, row in stored.items():  # kecamatan and kabupaten: the sums of their desa
            if row.level != "desa":
                under = [d for k, d in live.items() if k.startswith(kode + ".")]
                assert row.wajib == sum(d.wajib for d in under)
                assert row.recorded_jemput == sum(d.recorded_jemput for d in under)
        assert sum(row.recorded_jemput for row in live.values()) > 0
        for region in (None, "61.09.04", desa_of("61.09.01")[0]):
            from_summary = coverage.report(today, region)
            assert from_summary.computed is not None and not from_summary.computed.behind
            recount = counts.desa_counts(today, region)
            top = from_summary.top
            assert top is not None
            assert top.wajib == sum(row.wajib for row in recount.values())
            assert top.recorded == sum(row.recorded for row in recount.values())
            assert top.turning_17 == sum(row.turning_17 for row in recount.values())
        yesterday = coverage.report(today - dt.timedelta(days=1))
        assert yesterday.computed is None  # another date: counted live
        trend = coverage.trend(40)
        first = today - dt.timedelta(days=39)
        live_trend = coverage._live_arrivals(today, first, None)
        assert {day.day: day.records for day in trend if day.records} == dict(live_trend)
        assert sum(day.records for day in trend) > 0


def test_unrecorded_per_desa_from_the_summary(app: Flask, device: tuple[str, str]) -> None:
    random_data(app, device[0], 3, people=150)
    refreshed(app)
    today = office_today()
    with app.app_context():
        stored = coverage.desa_unrecorded(today, "61.09.04")
        live = {kode: row.not_recorded
                for kode, row in sorted(counts.desa_counts(today, "61.09.04").items())}
    assert stored == live


def test_a_state_change_puts_the_summary_behind_and_a_view_refreshes_it(
        app: Flask, device: tuple[str, str]) -> None:
    random_data(app, device[0], 4, people=60)
    refreshed(app)
    with app.app_context():
        first = summary.stamp()
        assert first is not None and not first.behind
        record_id = db.session.execute(select(Enrollment.id).limit(1)).scalar_one()
        db.session.execute(update(table_of(Enrollment)).where(Enrollment.id == record_id)
                           .values(state="rejected", state_changed_at=utcnow()))
        db.session.commit()
        behind = summary.stamp()
        assert behind is not None and behind.behind
        # Inline jobs (the tests' runner): the view queued the refresh and it ran at once.
        report = coverage.report(office_today())
        assert report.computed is not None and not report.computed.behind
        assert report.computed.computed_at > first.computed_at
        assert kinds_done(summary.REFRESH_COVERAGE) == 1


def test_a_registry_write_puts_the_summary_behind(app: Flask, device: tuple[str, str]) -> None:
    random_data(app, device[0], 5, people=30)
    refreshed(app)
    with app.app_context():
        db.session.execute(update(table_of(Resident)).values(updated_at=utcnow()))
        db.session.commit()
        found = summary.stamp()
        assert found is not None and found.behind


def test_another_day_counts_live_and_queues_a_refresh_for_today(
        app: Flask, device: tuple[str, str]) -> None:
    random_data(app, device[0], 6, people=30)
    with app.app_context():
        summary.refresh(office_today() - dt.timedelta(days=1))  # computed yesterday
        db.session.commit()
        app.config["JEMPUT_JOBS"] = "worker"  # nobody runs the job: it stays queued
        report = coverage.report(office_today())
        assert report.computed is None  # yesterday's summary does not answer for today
        waiting = queued(summary.REFRESH_COVERAGE)
        assert len(waiting) == 1
        coverage.report(office_today())
        assert len(queued(summary.REFRESH_COVERAGE)) == 1  # still one


def test_at_most_one_refresh_waits_and_an_earlier_one_moves_it_up(app: Flask) -> None:
    with app.app_context():
        later = utcnow() + dt.timedelta(hours=5)
        first = summary.queue_refresh(later)
        db.session.commit()
        again = summary.queue_refresh(later + dt.timedelta(hours=1))
        assert again == first
        sooner = summary.queue_refresh(utcnow())
        db.session.commit()
        assert sooner == first
        jobs = queued(summary.REFRESH_COVERAGE)
        assert len(jobs) == 1 and jobs[0].run_after <= utcnow()


def test_the_job_refreshes_and_queues_the_next_for_midnight(app: Flask) -> None:
    with app.app_context():
        summary.queue_and_wake()  # inline: runs now
        assert kinds_done(summary.REFRESH_COVERAGE) == 1
        found = db.session.get(CoverageRefresh, 1)
        assert found is not None and found.at == office_today()
        waiting = queued(summary.REFRESH_COVERAGE)
        assert len(waiting) == 1
        assert waiting[0].run_after == summary.next_midnight()


def test_refreshes_wait_the_minimum_interval_outside_inline_mode(app: Flask) -> None:
    with app.app_context():
        summary.refresh()
        db.session.commit()
        app.config["JEMPUT_JOBS"] = "worker"
        summary.queue_refresh()
        db.session.commit()
        waiting = queued(summary.REFRESH_COVERAGE)
        assert len(waiting) == 1
        assert waiting[0].run_after > utcnow() + dt.timedelta(seconds=30)


def test_check_runs_and_imports_queue_a_refresh_other_jobs_do_not(app: Flask) -> None:
    with app.app_context():
        app.config["JEMPUT_JOBS"] = "worker"
        summary.after_job("refresh_coverage")
        summary.after_job("something_else")
        assert queued(summary.REFRESH_COVERAGE) == []
        summary.after_job("import_population")
        summary.after_job("check_all")
        waiting = queued(summary.REFRESH_COVERAGE)
        assert len(waiting) == 1  # one refresh, after the burst
        assert waiting[0].run_after > utcnow() + dt.timedelta(seconds=30)
    assert summary.after_job in runner._AFTER_DONE


def test_completed_records_queue_a_refresh(app: Flask, push: Any, make_record: Any) -> None:
    answer = push([make_record(attachments=0)])  # no files to wait for: complete at once
    assert answer.status_code == 200
    with app.app_context():
        # Inline jobs: the checks ran, then the refresh their end queued.
        assert kinds_done(summary.REFRESH_COVERAGE) >= 1
        assert db.session.get(CoverageRefresh, 1) is not None


def test_the_page_says_when_the_figures_were_computed(app: Flask, client: FlaskClient,
                                                      device: tuple[str, str]) -> None:
    random_data(app, device[0], 7, people=30)
    login(client, app, "kasi", "viewer")
    live = client.get("/office/coverage?at=2020-01-01").get_data(as_text=True)
    assert "Angka dihitung langsung saat halaman ini dibuka." in live
    page = client.get("/office/coverage").get_data(as_text=True)
    assert "Angka dihitung " in page and " WIB" in page
    headers = token_for(app, "skrip", "viewer")
    body = client.get("/api/v1/office/coverage", headers=headers).json
    assert body["computed_at"] is not None and body["stale"] is False
    assert client.get("/api/v1/office/coverage?at=2020-01-01",
                      headers=headers).json["computed_at"] is None


def queued(kind: str) -> list[Job]:
    jobs = list(db.session.execute(select(Job).where(Job.kind == kind, Job.state == QUEUED)
                                   ).scalars())
    db.session.commit()
    return jobs


def kinds_done(kind: str) -> int:
    count = db.session.execute(select(func.count()).select_from(Job)
                               .where(Job.kind == kind, Job.state == DONE)).scalar_one()
    db.session.commit()
    return int(count)


def test_a_province_is_led_by_its_row_and_its_page_stops_at_the_kecamatan(
        app: Flask, client: FlaskClient) -> None:
    today, now = office_today(), utcnow()
    with app.app_context():
        if db.session.get(Region, "61") is None:
            db.session.add(Region(kode="61", nama="Kalimantan Barat", level=PROVINCE))
        db.session.add_all([Region(kode="61.01", nama="Kabupaten Sambas", level=REGENCY),
                            Region(kode="61.01.01", nama="Sambas", level=KECAMATAN),
                            Region(kode="61.01.01.2001", nama="Dalam Kaum", level=DESA)])
        for serial, desa in enumerate(("61.01.01.2001", "61.09.04.2006", "61.09.04.2006"), 1):
            db.session.add(Resident(nik=nik_for(dt.date(1990, 1, serial), "LAKI-LAKI", serial),
                                    nama="WARGA", tanggal_lahir=dt.date(1990, 1, serial),
                                    jenis_kelamin="LAKI-LAKI", desa_kode=desa,
                                    status_perkawinan="KAWIN", recorded=serial == 2,
                                    updated_at=now))
        db.session.commit()
        live = coverage.report(today - dt.timedelta(days=1))
        summary.refresh()
        db.session.commit()
        stored = coverage.report(today)
        wide = coverage.report(today, wide=True)
    for report in (live, stored):
        top = report.top
        assert top is not None and (top.kode, top.nama, top.level) == \
            ("61", "Kalimantan Barat", "provinsi")
        assert (top.wajib, top.recorded) == (3, 1)
        assert "61.01.01.2001" in [row.kode for row in report.rows]
    assert stored.computed is not None and live.computed is None
    assert wide.wide and {row.level for row in wide.rows} == {"provinsi", "kabupaten",
                                                              "kecamatan"}
    assert [row.kode for row in wide.bars] == ["61.01", "61.09"]
    login(client, app, "kasi", "viewer")
    page = client.get("/office/coverage").get_data(as_text=True)
    assert "Cakupan per kabupaten" in page and "Kalimantan Barat" in page
    assert "Dalam Kaum" not in page  # the desa are a kabupaten's view away
    assert "Dalam Kaum" in client.get("/office/coverage?region=61.01").get_data(as_text=True)
