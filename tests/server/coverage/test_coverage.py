"""Coverage per regency, kecamatan and desa: counting rules, page, CSV, JSON, CLI, bad input."""

from __future__ import annotations

import csv
import datetime as dt
import io
import uuid
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import func, select

from server.accounts import users
from server.core.errors import InvalidInput, NotFound
from server.core.extensions import db
from server.core.models import Enrollment, Resident
from server.core.timeutil import utcnow
from server.coverage import figures as coverage
from shared import display
from tests.support.office import login, make_user
from tests.support.records import nik_for
from tests.support.server_app import assert_problem

AT = dt.date(2026, 11, 29)  # 17 years before: 2009-11-29; three months on: 2027-02-28
TEMBAGA, NANGA_MAHAP_DESA, HILIR_DESA = "61.09.04.2006", "61.09.04.2001", "61.09.01.2001"
API = "/api/v1/office/coverage"
ADULT = dt.date(1990, 8, 17)


def person(serial: int, desa: str, born: dt.date = ADULT, *, recorded: bool = False,
           status: str | None = "KAWIN", records: tuple[str, ...] = ()) -> dict[str, Any]:
    """A resident (and the states of their Jemput records)."""
    return {"nik": nik_for(born, "LAKI-LAKI", serial), "desa": desa, "born": born,
            "recorded": recorded, "status": status, "records": records}


PEOPLE = [
    person(1, TEMBAGA, recorded=True),  # wajib, SIAK
    person(2, TEMBAGA, records=("approved", "verified")),  # wajib, Jemput once, as approved
    person(3, TEMBAGA, dt.date(2009, 11, 29), status="BELUM KAWIN"),  # 17 today: wajib, not yet
    person(4, TEMBAGA, dt.date(2009, 11, 30), status="BELUM KAWIN"),  # 17 tomorrow: turning
    person(5, NANGA_MAHAP_DESA, dt.date(2011, 1, 1), records=("rejected",)),  # married at 15
    person(6, NANGA_MAHAP_DESA, dt.date(2012, 5, 5), status="BELUM KAWIN"),  # a child
    person(7, NANGA_MAHAP_DESA, recorded=True, records=("received",)),  # SIAK only
    person(8, HILIR_DESA, dt.date(2011, 6, 1), status=None, records=("received",)),  # child
    person(9, HILIR_DESA, records=("superseded", "duplicate")),  # wajib, not recorded
    person(10, HILIR_DESA, records=("needs_review",)),  # wajib, Jemput needs_review
    person(11, HILIR_DESA, dt.date(2010, 2, 28), status="BELUM KAWIN"),  # 17 on 2027-02-28
    person(12, HILIR_DESA, dt.date(2010, 3, 1), status="BELUM KAWIN"),  # 17 too late
]


@pytest.fixture
def registry(app: Flask, device: tuple[str, str]) -> Flask:
    """The residents of :data:`PEOPLE` and their records (received two days ago)."""
    now = utcnow()
    with app.app_context():
        seq = 0
        for p in PEOPLE:
            db.session.add(Resident(nik=p["nik"], nama=f"WARGA {p['nik'][-2:]}",
                                    tanggal_lahir=p["born"], jenis_kelamin="LAKI-LAKI",
                                    desa_kode=p["desa"], status_perkawinan=p["status"],
                                    recorded=p["recorded"], updated_at=now))
            for state in p["records"]:
                seq += 1
                db.session.add(record(device[0], seq, p["nik"], p["desa"], state,
                                      now - dt.timedelta(days=2)))
        db.session.commit()
    return app


def record(device_id: str, seq: int, nik: str, desa: str, state: str,
           received: dt.datetime) -> Enrollment:
    return Enrollment(id=str(uuid.uuid4()), device_id=device_id, seq=seq, type="enrollment",
                      captured_at=received, operator="op", nik=nik, desa_kode=desa,
                      payload={}, exceptions=[], warnings=[], record_sha256="0" * 64,
                      state=state, received_at=received, state_changed_at=received)


def figures(row: coverage.CoverageRow) -> tuple[Any, ...]:
    return (row.wajib, row.recorded_siak, row.recorded_jemput, row.not_recorded,
            row.percent, row.turning_17)


def test_counting_rules(registry: Flask) -> None:
    with registry.app_context():
        report = coverage.report(AT)
    rows = {row.kode: row for row in report.rows}
    assert [row.kode for row in report.rows[:3]] == ["61.09", "61.09.01", "61.09.01.2001"]
    assert len(report.rows) == 1 + 7 + 94  # every kecamatan and desa, with residents or not
    assert figures(rows[TEMBAGA]) == (3, 1, 1, 1, Decimal("66.67"), 1)
    assert rows[TEMBAGA].jemput_by_state == {"approved": 1}
    assert figures(rows[NANGA_MAHAP_DESA]) == (2, 1, 0, 1, Decimal("50.00"), 0)
    assert figures(rows[HILIR_DESA]) == (2, 0, 1, 1, Decimal("50.00"), 1)
    assert rows[HILIR_DESA].jemput_by_state == {"needs_review": 1}
    assert figures(rows["61.09.04"]) == (5, 2, 1, 2, Decimal("60.00"), 1)
    regency = report.top
    assert regency is not None and regency.level == "kabupaten"
    assert figures(regency) == (7, 2, 2, 3, Decimal("57.14"), 2)
    assert regency.jemput_by_state == {"approved": 1, "needs_review": 1}
    empty = rows["61.09.07"]
    assert (empty.wajib, empty.percent, empty.as_dict()["percent"]) == (0, None, None)


def test_region_scopes(registry: Flask) -> None:
    with registry.app_context():
        kecamatan = coverage.report(AT, " 61.09.04 ")
        desa = coverage.report(AT, TEMBAGA)
        unrecorded = coverage.desa_unrecorded(AT, "61.09.04")
        everywhere = coverage.desa_unrecorded(AT)
    assert kecamatan.region == "61.09.04"
    assert [row.kode for row in kecamatan.rows][:2] == ["61.09.04", "61.09.04.2001"]
    assert len(kecamatan.rows) == 1 + 13
    assert figures(kecamatan.rows[0]) == (5, 2, 1, 2, Decimal("60.00"), 1)
    assert [(row.kode, row.wajib) for row in desa.rows] == [(TEMBAGA, 3)]
    assert [len(group) for _, group in desa.groups] == [1]
    assert unrecorded == {NANGA_MAHAP_DESA: 1, TEMBAGA: 1}
    assert everywhere == {HILIR_DESA: 1, NANGA_MAHAP_DESA: 1, TEMBAGA: 1}


def test_the_date_moves_who_is_wajib(registry: Flask) -> None:
    with registry.app_context():
        before = coverage.report(dt.date(2026, 11, 28)).top
        later = coverage.report(dt.date(2027, 3, 1)).top
    assert before is not None and later is not None
    assert before.wajib == 6 and before.turning_17 == 3  # resident 3 turns 17 the next day
    assert later.wajib == 10 and later.turning_17 == 0  # 4, 11 and 12 are 17 by then


def test_percent_rounds_half_up() -> None:
    assert coverage.share(127_901, 148_293) == Decimal("86.25")
    assert coverage.share(1, 800) == Decimal("0.13")  # 0.125: half up, not to even
    assert coverage.share(2, 3) == Decimal("66.67")
    assert coverage.share(0, 0) is None
    assert display.format_number(148_293) == "148.293"
    assert display.format_percent(Decimal("86.25")) == "86,25"


def test_trend_counts_records_per_office_day(registry: Flask) -> None:
    now = dt.datetime(2026, 11, 29, 3, 0, tzinfo=dt.UTC)  # 10:00 WIB
    with registry.app_context():
        db.session.execute(Enrollment.__table__.update().values(
            received_at=dt.datetime(2026, 11, 27, 18, 0, tzinfo=dt.UTC)))  # 28 Nov, 01:00 WIB
        db.session.commit()
        days = coverage.trend(3, now=now)
        nanga_mahap = coverage.trend(3, "61.09.04", now=now)
        today = dt.date(2026, 11, 29)
        whole = coverage.report(today).top
        mahap = coverage.report(today, "61.09.04").top
    # New recordings, on the office day their first record arrived: the figure beside the
    # chart (recorded_jemput), not every record received (8 here, most of them not new).
    assert whole is not None and mahap is not None
    assert [(d.day.isoformat(), d.records) for d in days] == [
        ("2026-11-27", 0), ("2026-11-28", whole.recorded_jemput), ("2026-11-29", 0)]
    assert whole.recorded_jemput == 2
    assert [d.records for d in nanga_mahap] == [0, mahap.recorded_jemput, 0]


def test_page(registry: Flask, client: FlaskClient) -> None:
    login(client, registry, "vera", "viewer")
    assert 'href="/office/coverage"' in client.get("/office/").get_data(as_text=True)
    page = client.get("/office/coverage?at=2026-11-29").get_data(as_text=True)
    assert "Cakupan perekaman KTP-el" in page and "Kabupaten Sekadau" in page
    assert "57,14 %" in page and "Tembaga" in page and "Belitang Hulu" in page
    assert page.count("<svg") == 2 and "cov-p0" in page
    assert "disetujui: 1" in page  # Jemput records by state
    scoped = client.get("/office/coverage?at=2026-11-29&region=61.09.04").get_data(as_text=True)
    assert "Tembaga" in scoped and "Sekadau Hilir" not in scoped and "60,00 %" in scoped


def test_page_needs_login(client: FlaskClient) -> None:
    for path in ("/office/coverage", "/office/coverage.csv"):
        answer = client.get(path)
        assert answer.status_code == 302 and "/office/login" in answer.headers["Location"]


def test_csv(registry: Flask, client: FlaskClient) -> None:
    login(client, registry, "vera", "viewer")
    answer = client.get("/office/coverage.csv?at=2026-11-29&region=61.09.04")
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    assert "cakupan-2026-11-29.csv" in answer.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(answer.get_data(as_text=True).lstrip("\ufeff"))))
    assert len(rows) == 14
    assert (rows[0]["kode"], rows[0]["wajib"], rows[0]["percent"]) == ("61.09.04", "5", "60.00")
    tembaga = next(row for row in rows if row["kode"] == TEMBAGA)
    assert (tembaga["jemput_approved"], tembaga["turning_17"]) == ("1", "1")


def test_json(registry: Flask, client: FlaskClient) -> None:
    make_user(registry, "vera", "viewer")
    with registry.app_context():
        headers = {"Authorization": f"Bearer {users.issue_api_token('vera')}"}
    body = client.get(f"{API}?at=2026-11-29&trend_days=7", headers=headers).json
    assert body["at"] == "2026-11-29" and body["region"] is None
    regency = body["rows"][0]
    assert regency == {"kode": "61.09", "nama": "Kabupaten Sekadau", "level": "kabupaten",
                       "wajib": 7, "recorded_siak": 2, "recorded_jemput": 2,
                       "jemput_by_state": {"approved": 1, "needs_review": 1}, "recorded": 4,
                       "not_recorded": 3, "percent": 57.14, "turning_17": 2}
    assert len(body["trend"]) == 7
    assert sum(day["records"] for day in body["trend"]) == regency["recorded_jemput"] == 2
    scoped = client.get(f"{API}?at=2026-11-29&region={TEMBAGA}", headers=headers).json
    assert [row["kode"] for row in scoped["rows"]] == [TEMBAGA]
    exported = client.get(f"{API}?at=2026-11-29&format=csv", headers=headers)
    assert exported.mimetype == "text/csv" and "61.09.04.2006" in exported.get_data(as_text=True)


def test_cli(registry: Flask, runner: FlaskCliRunner) -> None:
    table = runner.invoke(args=["coverage", "--at", "2026-11-29", "--region", "61.09.04"])
    assert table.exit_code == 0, table.output
    assert "Cakupan perekaman KTP-el per 2026-11-29" in table.output
    assert "Tembaga" in table.output and "60,00" in table.output
    exported = runner.invoke(args=["coverage", "--at", "2026-11-29", "--csv"])
    assert exported.exit_code == 0, exported.output
    rows = list(csv.DictReader(io.StringIO(exported.output)))
    assert (rows[0]["kode"], rows[0]["percent"], len(rows)) == ("61.09", "57.14", 102)


def test_empty_registry(app: Flask, client: FlaskClient, runner: FlaskCliRunner) -> None:
    with app.app_context():
        assert coverage.report(AT).rows == []
    login(client, app, "vera", "viewer")
    assert "Belum ada data penduduk" in client.get("/office/coverage").get_data(as_text=True)
    assert "Belum ada data penduduk" in runner.invoke(args=["coverage"]).output


BAD_REGIONS = [("61.09.99", 404, "not_found"), ("61.09.04.9999", 404, "not_found"),
               ("61", 400, "invalid_input"), ("abc", 400, "invalid_input"),
               ("61.9", 400, "invalid_input"), ("61.09.04%", 400, "invalid_input"),
               ("61.09.04' OR 1=1 --", 400, "invalid_input")]
BAD_DATES = ["2026-13-01", "29-11-2026", "2026-02-30", "kemarin", "２０２６-11-29"]


def test_bad_region_and_date_in_the_service(registry: Flask) -> None:
    with registry.app_context():
        with pytest.raises(NotFound, match="tidak ada di tabel wilayah"):
            coverage.report(AT, "61.09.99")
        with pytest.raises(InvalidInput, match="Kode wilayah"):
            coverage.desa_unrecorded(AT, "61.09.04.")
        with pytest.raises(InvalidInput, match="TTTT-BB-HH"):
            coverage.reference_date("2026-13-01")
        with pytest.raises(InvalidInput, match="hari"):
            coverage.trend(0)


def test_bad_input_over_http_and_cli(registry: Flask, client: FlaskClient,
                                     runner: FlaskCliRunner) -> None:
    make_user(registry, "vera", "viewer")
    with registry.app_context():
        headers = {"Authorization": f"Bearer {users.issue_api_token('vera')}"}
        before = db.session.execute(select(func.count()).select_from(Resident)).scalar_one()
    login(client, registry, "rina", "viewer")
    for region, status, code in BAD_REGIONS:
        problem = assert_problem(client.get(API, query_string={"region": region},
                                            headers=headers), status, code)
        assert "Wilayah" in problem["detail"] or "Kode wilayah" in problem["detail"]
        page = client.get("/office/coverage", query_string={"region": region})
        assert page.status_code == status and "wilayah" in page.get_data(as_text=True)
        assert client.get("/office/coverage.csv",
                          query_string={"region": region}).status_code == status
        result = runner.invoke(args=["coverage", "--region", region])
        assert result.exit_code == 1 and "ilayah" in result.output
    for day in BAD_DATES:
        assert_problem(client.get(API, query_string={"at": day}, headers=headers),
                       400, "invalid_input")
        assert client.get("/office/coverage", query_string={"at": day}).status_code == 400
        result = runner.invoke(args=["coverage", "--at", day])
        assert result.exit_code == 1 and "TTTT-BB-HH" in result.output
    for days in ("0", "367", "x", "1e3", "-1"):
        assert_problem(client.get(API, query_string={"trend_days": days}, headers=headers),
                       400, "invalid_input")
    assert_problem(client.get(API), 401, "unauthorized")
    with registry.app_context():  # a report writes nothing
        assert db.session.execute(select(func.count()).select_from(Resident)).scalar_one() \
            == before
