"""Headless Chromium against the real server: log in, open the queue, resolve a duplicate.

Browser set-up in conftest.py. Saves dashboard.png and duplicate.png into ``shots``.
"""

from __future__ import annotations

from pathlib import Path

from server.core.extensions import dispose_engines
from tests.support.office import snapshot
from tests.support.office_scenario import office
from tests.support.wsgi_thread import serving


def test_reviewer_resolves_a_duplicate(tmp_path: Path, browser: object, shots: Path) -> None:
    app, case_id, ids, password = office(tmp_path)
    try:
        with serving(app) as url:
            page = browser.new_page(viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
            page.goto(f"{url}/")
            assert "/office/login" in page.url
            page.fill("input[name=username]", "rina")
            page.fill("input[name=password]", password)
            page.click("button[type=submit]")
            page.wait_for_selector("h1:has-text('Dasbor')")
            assert page.locator(".tile b").first.inner_text() == "2"
            page.screenshot(path=str(shots / "dashboard.png"), full_page=True)

            page.click("nav >> text=Antrean periksa")
            page.select_option("select[name=kind]", "duplicate_nik")
            page.click("button:has-text('Saring')")
            page.click(f"a[href='/office/cases/{case_id}']")
            page.wait_for_selector(".side-by-side .record-card >> nth=1")
            assert page.locator("img.photo").count() == 2
            page.screenshot(path=str(shots / "duplicate.png"), full_page=True)

            page.check(f"input[name=duplicate_id][value='{ids[1]}']")
            page.click("#mark-duplicate")
            page.wait_for_selector(".flash.success")
            assert "ditandai duplikat" in page.locator(".flash.success").inner_text()
            assert page.locator("#case-state").inner_text() == "selesai"

            page.goto(f"{url}/office/records/{ids[1]}")
            assert "duplikat dari" in page.content()
            assert page.locator("img.photo").evaluate("img => img.naturalWidth") == 120
    finally:
        dispose_engines(app)
    for name in ("dashboard.png", "duplicate.png"):
        assert (shots / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    states = snapshot(app)["records"]
    assert states == {ids[0]: "approved", ids[1]: "duplicate"}
