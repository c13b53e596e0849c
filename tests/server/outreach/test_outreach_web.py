"""Office outreach pages: ranking and planning form, visit page, close/cancel; roles and CSRF."""

from __future__ import annotations

import datetime as dt

from flask import Flask
from flask.testing import FlaskClient

from server.outreach import visits as outreach
from tests.support.office import csrf_token, login
from tests.support.outreach import outreach_rows, plan, populate
from tests.support.records import DESA


def _form(device_id: str, **fields: str) -> dict[str, str]:
    date = (outreach.office_today() + dt.timedelta(days=3)).isoformat()
    return {"desa_kode": DESA, "visit_date": date, "days": "2", "team": "TIM MAHAP",
            "device_id": device_id, **fields}


def test_plan_a_visit_from_the_page_and_close_it(app: Flask, client: FlaskClient,
                                                 device: tuple[str, str]) -> None:
    groups = populate(app)
    login(client, app, "sari", "supervisor")
    page = client.get("/office/outreach?kecamatan=61.09.04").get_data(as_text=True)
    assert "Peringkat desa" in page and "Rencanakan kunjungan" in page
    assert f'value="{device[0]}"' in page and "4 belum rekam" in page
    assert "belum pernah" in page
    token = csrf_token(client, "/office/outreach")
    answer = client.post("/office/outreach/visits",
                         data={"csrf_token": token, **_form(device[0])})
    assert answer.status_code == 302
    visit_page = client.get(answer.headers["Location"]).get_data(as_text=True)
    assert "4 sasaran dikirim ke perangkat laptop-1" in visit_page
    assert all(nik in visit_page for nik in groups["targets"])
    assert groups["recorded"][0] not in visit_page
    assert "Tutup kunjungan" in visit_page and "direncanakan" in visit_page
    visit_id = answer.headers["Location"].rsplit("/", 1)[1]
    listing = client.get("/office/outreach").get_data(as_text=True)
    assert f"/office/outreach/{visit_id}" in listing and "TIM MAHAP" in listing
    closed = client.post(f"/office/outreach/{visit_id}/close",
                         data={"csrf_token": token, "action": "cancel"}, follow_redirects=True)
    text = closed.get_data(as_text=True)
    assert closed.status_code == 200 and "dibatalkan" in text and "Tutup kunjungan" not in text
    with app.app_context():
        assert outreach.visit_info(visit_id).state == "cancelled"


def test_viewer_sees_but_cannot_plan_or_close(app: Flask, client: FlaskClient,
                                              device: tuple[str, str]) -> None:
    populate(app)
    visit_id = plan(app, device[0])
    login(client, app, "vera", "viewer")
    page = client.get("/office/outreach").get_data(as_text=True)
    assert "Peringkat desa" in page and "Rencanakan kunjungan" not in page
    assert device[0] not in page  # no device choices for a viewer
    visit_page = client.get(f"/office/outreach/{visit_id}").get_data(as_text=True)
    assert "Tutup kunjungan" not in visit_page
    token = csrf_token(client, "/office/outreach")
    before = outreach_rows(app)
    create = client.post("/office/outreach/visits", data={"csrf_token": token, **_form(device[0])})
    close = client.post(f"/office/outreach/{visit_id}/close",
                        data={"csrf_token": token, "action": "close"})
    assert create.status_code == close.status_code == 403
    assert "Akses ditolak" in create.get_data(as_text=True)
    assert outreach_rows(app) == before


def test_bad_forms_change_nothing(app: Flask, client: FlaskClient,
                                  device: tuple[str, str]) -> None:
    populate(app)
    login(client, app, "sari", "supervisor")
    token = csrf_token(client, "/office/outreach")
    before = outreach_rows(app)
    cases = [
        (_form(device[0], visit_date="2020-01-01"), "sudah lewat"),
        (_form(device[0], visit_date="besok"), "tanggal"),
        (_form(device[0], days="dua"), "lama (hari)"),
        (_form(device[0], desa_kode="61.09.99.9999"), "tidak ada di tabel wilayah"),
        (_form("bukan-perangkat"), "tidak dikenal"),
    ]
    for form, message in cases:
        answer = client.post("/office/outreach/visits", data={"csrf_token": token, **form})
        assert answer.status_code == 400, form
        assert message in answer.get_data(as_text=True), form
    forged = client.post("/office/outreach/visits", data={"csrf_token": "forged",
                                                         **_form(device[0])})
    assert forged.status_code == 400 and "CSRF" in forged.get_data(as_text=True)
    missing = client.post("/office/outreach/visits", data=_form(device[0]))
    assert missing.status_code == 400
    assert outreach_rows(app) == before
    assert client.get("/office/outreach/nope").status_code == 404
    assert client.get("/office/outreach?at=kemarin").status_code == 400
    assert client.get("/office/outreach?kecamatan=61.09.99").status_code == 404


def test_close_twice_and_bad_action(app: Flask, client: FlaskClient,
                                    device: tuple[str, str]) -> None:
    populate(app)
    visit_id = plan(app, device[0])
    login(client, app, "sari", "supervisor")
    token = csrf_token(client, f"/office/outreach/{visit_id}")
    before = outreach_rows(app)
    odd = client.post(f"/office/outreach/{visit_id}/close",
                      data={"csrf_token": token, "action": "delete"})
    assert odd.status_code == 400 and outreach_rows(app) == before
    assert client.post(f"/office/outreach/{visit_id}/close",
                       data={"csrf_token": token, "action": "close"}).status_code == 302
    after = outreach_rows(app)
    again = client.post(f"/office/outreach/{visit_id}/close",
                        data={"csrf_token": token, "action": "close"})
    assert again.status_code == 409 and "sudah ditutup" in again.get_data(as_text=True)
    assert outreach_rows(app) == after


def test_pages_need_login(client: FlaskClient) -> None:
    assert client.get("/office/outreach").status_code == 302
    assert client.get("/office/outreach/x").status_code == 302


def test_a_planned_visit_past_its_days_is_flagged(app: Flask, client: FlaskClient,
                                                  device: tuple[str, str]) -> None:
    populate(app)
    today = outreach.office_today()
    plan(app, device[0], visit_date=today - dt.timedelta(days=3), days=2,
         today=today - dt.timedelta(days=10))
    plan(app, device[0], desa_kode="61.09.04.2001", visit_date=today, today=today)
    login(client, app, "vera", "viewer")
    page = client.get("/office/outreach").get_data(as_text=True)
    assert page.count("lewat, belum ditutup") == 1
