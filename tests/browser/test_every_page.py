"""Every office page and every field app page, with data in every state, in headless Chromium:
no serious or critical accessibility violation (axe-core), no bare code and no UTC time.

The data is the demo's story at a small scale (records arrived, checked, some printed, Sukets
issued and superseded, a visit closed), plus the office's decisions of every kind, a planned
visit whose target list reached the laptop, a record sent back, a draft and a form with errors.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from field_client.client import FieldClient
from field_client.config import Settings
from server.accounts.actor import Actor
from server.core.extensions import db, dispose_engines
from server.core.models import Case, Enrollment, OutreachVisit
from server.demo.story import FIELD_HOME, TEAM, run_demo
from server.outreach import report, visits
from server.review import decisions
from tests.support.browser import FieldUI
from tests.support.field import biometric_files
from tests.support.keys import DATA_KEY as DK
from tests.support.page_checks import check_page
from tests.support.server_app import make_app
from tests.support.wsgi_thread import serving

ADMIN = Actor("admin", "admin")


def _office_with_every_state(tmp_path: Path) -> tuple[Any, Any]:
    """The demo, then a case of each resolution, a record of each decision, a planned visit."""
    instance = tmp_path / "instance"
    app = make_app(instance, f"sqlite:///{instance / 'jemput.db'}")
    app.config["SESSION_COOKIE_SECURE"] = False
    result = run_demo(app, count=10, port=0, scale=0.02, serve=False, echo=lambda _: None)
    with app.app_context():
        cases = db.session.execute(select(Case).where(Case.state == "open")
                                   .order_by(Case.id)).scalars().all()
        for case, action in zip(cases, ("needs_fix", "reject"), strict=False):
            decisions.resolve_case(case.id, actor=ADMIN, action=action, version=case.version,
                                   reason="Foto buram, rekam ulang.")
        device_id = result.device_id
        desa = report.ranking(visits.office_today(), "61.09.04")[1].desa_kode
        visits.create_visit(desa, visits.office_today() + dt.timedelta(days=1), TEAM,
                            device_id, actor=ADMIN)
    return app, result


def _visit_all(page: Any, base: str, paths: list[str]) -> list[str]:
    problems: list[str] = []
    for path in paths:
        answer = page.goto(base + path)
        assert answer is not None and answer.status < 500, (path, answer and answer.status)
        problems += check_page(page, path)
    return problems


def test_every_office_and_field_page_reads_right(tmp_path: Path, browser: Any,
                                                 shots: Path) -> None:
    app, result = _office_with_every_state(tmp_path)
    home = Path(app.instance_path) / FIELD_HOME
    field_ui = FieldUI(home)
    try:
        with serving(app) as url:
            with app.app_context():
                record_ids = {state: rid for rid, state in db.session.execute(
                    select(Enrollment.id, Enrollment.state))}.values()
                case_ids = db.session.execute(select(Case.id)).scalars().all()
                visit_ids = db.session.execute(select(OutreachVisit.id)).scalars().all()
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            problems = _visit_all(page, url, ["/office/login"])
            page.fill("input[name=username]", "admin")
            page.fill("input[name=password]", str(result.admin_password))
            page.click("button[type=submit]")
            page.wait_for_selector("h1:has-text('Dasbor')")
            paths = ["/office/", "/office/cases", "/office/cases?state=resolved",
                     "/office/records", "/office/coverage", "/office/coverage?region=61.09.04",
                     "/office/outreach", "/office/blanko", "/office/blanko/summary",
                     "/office/print", "/office/no-such-page",
                     *(f"/office/suket?status={s}" for s in
                       ("waiting", "valid", "expiring", "expired", "superseded", "all")),
                     *(f"/office/cases/{c}" for c in case_ids),
                     *(f"/office/records/{r}" for r in record_ids),
                     *(f"/office/outreach/{v}" for v in visit_ids)]
            if result.cards and result.cards.verify_path:
                paths.append(result.cards.verify_path)
            problems += _visit_all(page, url, paths)

            # The laptop: hear the office's decisions and the new visit, then its pages.
            settings = Settings(allow_test_kdf=True, home=home, read_timeout=20)
            with FieldClient(settings=settings) as device:
                device.outbox.set_meta("server_url", url)
                device.sync()
                sent_back = [r["id"] for r in device.records() if r["state"] == "needs_fix"]
                draft = device.save_draft(None, form={"nik": "6109045708900001"},
                                          operator="op.demo",
                                          uploads={role: (path.name, path.read_bytes())
                                                   for role, path in biometric_files(
                                                       tmp_path / "scans").items()}, data_key=DK)
            assert sent_back, "the office sent a record back"
            field_ui.start()
            problems += _visit_all(page, field_ui.url, ["/masuk"])
            page.select_option("select[name=operator]", "op.demo")
            page.fill("input[name=pin]", str(result.operator_pin))
            page.click("button[type=submit]")
            page.wait_for_url(re.compile(r".*/(antrean|rekam|kunjungan)?$"))
            problems += _visit_all(page, field_ui.url, [
                "/antrean", "/rekam", "/kunjungan", f"/draf/{draft.id}",
                f"/rekaman/{sent_back[0]}/perbaiki"])
            page.goto(field_ui.url + "/rekam")
            page.fill("#nik", "610904570890000")
            page.click("button[value=review]")
            page.wait_for_selector("#form-errors")
            problems += check_page(page, "form with errors")
            page.screenshot(path=str(shots / "field-form-errors.png"), full_page=True)
    finally:
        field_ui.stop()
        dispose_engines(app)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("width", [1280])
def test_the_field_app_stops_asking_for_its_status_when_the_session_ends(
    tmp_path: Path, browser: Any, width: int,
) -> None:
    from tests.support.field_ui import OPERATOR, PIN, prepare_device

    home = tmp_path / "home"
    prepare_device(Settings(allow_test_kdf=True, home=home))
    field_ui = FieldUI(home)
    field_ui.start()
    try:
        context = browser.new_context(viewport={"width": width, "height": 900})
        page = context.new_page()
        asked: list[int] = []
        page.on("response", lambda r: asked.append(r.status) if "status.json" in r.url else None)
        page.goto(field_ui.url + "/masuk")
        page.wait_for_timeout(1500)
        assert asked == [], "the login page does not ask for the status"
        page.select_option("select[name=operator]", OPERATOR)
        page.fill("input[name=pin]", PIN)
        page.click("button[type=submit]")
        page.wait_for_selector("#net")
        page.wait_for_timeout(500)
        context.clear_cookies()  # the session ends (idle, or Keluar in another window)
        for _ in range(150):  # the poll runs every 5 s; the page's CSP allows no eval
            if "Sesi berakhir" in page.locator("#net").inner_text():
                break
            page.wait_for_timeout(100)
        assert "Sesi berakhir" in page.locator("#net").inner_text()
        refused = asked.count(401)
        page.wait_for_timeout(6000)
        assert refused == 1 and asked.count(401) == 1, asked
    finally:
        field_ui.stop()
