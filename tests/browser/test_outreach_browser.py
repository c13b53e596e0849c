"""Headless Chromium: a supervisor reads the coverage, then plans the next outreach visit.

Browser set-up in conftest.py. Saves coverage.png and outreach.png into ``shots``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import flask_migrate
from sqlalchemy import func, select

from server.accounts import devices, users
from server.core.extensions import db, dispose_engines
from server.core.models import Change, OutreachTarget, OutreachVisit
from server.coverage import figures as coverage
from server.demo import population
from server.outreach.visits import office_today
from shared import display
from tests.support.server_app import make_app
from tests.support.wsgi_thread import serving

SCALE = 0.05


def test_supervisor_reads_coverage_and_plans_a_visit(
    tmp_path: Path, browser: object, shots: Path
) -> None:
    instance = tmp_path / "instance"
    instance.mkdir()
    app = make_app(instance, f"sqlite:///{instance / 'jemput.db'}", SESSION_COOKIE_SECURE=False)
    today = office_today()
    with app.app_context():
        flask_migrate.upgrade()
        population.load(SCALE, at=today)
        password = users.create_user("sari", "supervisor")
        device, _ = devices.register_device(
            devices.create_registration_code("TIM MAHAP", ttl=dt.timedelta(hours=1)), "laptop-1")
        device_id = device.id  # the object expires with the next commit, out of this context
        top = coverage.desa_unrecorded(today, "61.09.04")
    try:
        with serving(app) as url:
            page = browser.new_page(viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
            page.goto(f"{url}/office/login")
            page.fill("input[name=username]", "sari")
            page.fill("input[name=password]", password)
            page.click("button[type=submit]")
            page.wait_for_selector("h1:has-text('Dasbor')")

            page.click("nav >> text=Cakupan")
            page.wait_for_selector("h1:has-text('Cakupan perekaman')")
            tiles = page.locator(".tile b").all_inner_texts()
            wajib, recorded = round(148_293 * SCALE), round(127_901 * SCALE)
            assert tiles[0] == display.format_number(wajib)
            assert tiles[1] == display.format_number(recorded)
            assert page.locator("svg.cov-bars rect.cov-track").count() == 7
            page.screenshot(path=str(shots / "coverage.png"), full_page=True)

            page.click("nav >> text=Penjangkauan")
            page.wait_for_selector("select[name=desa_kode]")
            page.fill("input[name=kecamatan]", "61.09.04")
            page.click("button:has-text('Tampilkan')")
            page.wait_for_selector("select[name=desa_kode]")
            first = page.locator("select[name=desa_kode] option").first.get_attribute("value")
            assert first == max(top, key=lambda kode: top[kode])  # most not recorded first
            page.select_option("select[name=desa_kode]", first)
            page.fill("input[name=team]", "TIM MAHAP")
            page.select_option("select[name=device_id]", device_id)
            page.click("button:has-text('Rencanakan')")
            page.wait_for_selector("h1:has-text('Kunjungan ke')")
            assert "direncanakan" in page.locator(".flash").first.inner_text()
            assert page.locator("table tbody tr").count() == top[first]
            page.screenshot(path=str(shots / "outreach.png"), full_page=False)
    finally:
        dispose_engines(app)
    for name in ("coverage.png", "outreach.png"):
        assert (shots / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with app.app_context():
        visit = db.session.execute(select(OutreachVisit)).scalar_one()
        assert (visit.desa_kode, visit.device_id, visit.target_count) == (first, device_id,
                                                                          top[first])
        targets = select(func.count()).select_from(OutreachTarget)
        assert db.session.execute(targets).scalar_one() == top[first]
        feed = select(Change.kind).where(Change.device_id == device_id)
        assert db.session.execute(feed).scalars().all() == ["outreach_assigned"]
