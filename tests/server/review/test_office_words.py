"""What an office person reads: one time zone and format, records told apart, figures that
agree and explain themselves, thousands separators, errors as pages."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from server import create_app
from server.core.extensions import db
from server.core.models import Case
from tests.support.office import duplicate_case, login
from tests.support.records import add_residents
from tests.support.server_app import make_app

Push = Callable[..., Any]
Make = Callable[..., dict[str, Any]]
UTC_TIME = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}|UTC")


def test_duplicate_records_never_read_alike(app: Flask, push: Push, make_record: Make,
                                            ) -> None:
    # UUIDv7 ids from one laptop share their first eight characters (the time prefix).
    first = make_record(attachments=0, serial=7, id="01a24c23-7f00-7000-8000-00000000a001")
    second = make_record(attachments=0, serial=7, id="01a24c23-7f00-7000-8000-00000000b002")
    add_residents(app, first)
    assert push([first, second]).status_code == 200
    with app.app_context():
        case = db.session.execute(select(Case).where(Case.kind == "duplicate_nik")).scalar_one()
        explanation = case.explanation
    assert "no. urut 1" in explanation and "no. urut 2" in explanation
    assert "…0000a001" in explanation and "…0000b002" in explanation
    assert "rekaman 01a24c23" not in explanation


def test_times_are_shown_in_the_office_zone_in_one_format(
    app: Flask, client: FlaskClient, push: Push, make_record: Make,
) -> None:
    case_id, record_ids = duplicate_case(app, push, make_record, add_residents)
    login(client, app, "rina", "reviewer")
    for path in ("/office/", "/office/cases", f"/office/cases/{case_id}", "/office/records",
                 f"/office/records/{record_ids[0]}"):
        page = client.get(path).get_data(as_text=True)
        text = re.sub(r"<[^>]+>", " ", page)
        assert not UTC_TIME.search(text), (path, UTC_TIME.search(text))
        assert re.search(r"\d{2}-\d{2}-\d{4} \d{2}:\d{2} WIB", text), path


def test_the_office_zone_is_configurable_and_checked(tmp_path: Any) -> None:
    makassar = make_app(tmp_path / "a", f"sqlite:///{tmp_path / 'a.db'}",
                        JEMPUT_OFFICE_TIMEZONE="Asia/Makassar")
    with makassar.app_context():
        from server.core.timeutil import office_time, utcnow

        assert office_time(utcnow()).endswith(" WITA")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("JEMPUT_INSTANCE_PATH", str(tmp_path / "b"))
        patch.setenv("JEMPUT_OFFICE_TIMEZONE", "Mars/Olympus")
        with pytest.raises(ValueError, match="JEMPUT_OFFICE_TIMEZONE"):
            create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'b.db'}"})


def test_the_dashboard_says_what_its_open_cases_cover_with_separators(
    app: Flask, client: FlaskClient, push: Push, make_record: Make,
) -> None:
    duplicate_case(app, push, make_record, add_residents)
    login(client, app, "rina", "reviewer")
    page = client.get("/office/").get_data(as_text=True)
    assert "kasus terbuka, menyangkut 2 rekaman" in page
    assert "Satu kasus dapat menyangkut lebih dari satu rekaman" in page
    records = client.get("/office/records").get_data(as_text=True)
    assert "2 rekaman cocok" in records


def test_a_browser_gets_an_error_page_and_a_script_keeps_json(app: Flask,
                                                               client: FlaskClient) -> None:
    login(client, app, "rina", "reviewer")
    page = client.get("/office/no-such-page", headers={"Accept": "text/html,*/*;q=0.8"})
    assert page.status_code == 404 and page.mimetype == "text/html"
    assert "Alamat tidak ditemukan" in page.get_data(as_text=True)
    script = client.get("/office/no-such-page", headers={"Accept": "application/json"})
    assert script.status_code == 404 and script.mimetype == "application/problem+json"
    assert script.json["code"] == "not_found" and "requested URL" not in script.json["detail"]
    api = client.get("/api/v1/nothing", headers={"Accept": "text/html"})
    assert api.mimetype == "application/problem+json"


def test_an_empty_reason_is_said_by_its_field_and_nothing_changes(
    app: Flask, client: FlaskClient, push: Push, make_record: Make,
) -> None:
    from tests.support.office import csrf_token, snapshot

    case_id, _ = duplicate_case(app, push, make_record, add_residents)
    login(client, app, "rina", "reviewer")
    before = snapshot(app)
    with app.app_context():
        version = db.session.get(Case, case_id).version  # type: ignore[union-attr]
    answer = client.post(f"/office/cases/{case_id}/resolve", data={
        "csrf_token": csrf_token(client, f"/office/cases/{case_id}"), "action": "needs_fix",
        "version": str(version), "reason": "  "})
    assert answer.status_code == 400
    page = answer.get_data(as_text=True)
    assert 'id="reason-error"' in page and "Alasan wajib diisi" in page
    assert f"Kasus #{case_id}" in page  # the case page itself, not a separate error page
    assert snapshot(app) == before


def test_the_office_has_a_favicon_and_the_print_queue_in_its_menu(app: Flask,
                                                                  client: FlaskClient) -> None:
    login(client, app, "rina", "reviewer")
    page = client.get("/office/").get_data(as_text=True)
    assert 'rel="icon"' in page and 'href="/office/print">Cetak</a>' in page
    icon = client.get("/static/favicon.svg")
    assert icon.status_code == 200 and b"<svg" in icon.data
