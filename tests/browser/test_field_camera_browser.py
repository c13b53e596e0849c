"""The face photo taken with the laptop camera in the browser (Chromium's fake camera here)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from field_client.client import FieldClient
from field_client.config import Settings, load_settings
from field_client.ui import create_app
from tests.support.browser import ARGS, CHROMIUM
from tests.support.field_ui import OPERATOR, PIN, prepare_device
from tests.support.keys import DATA_KEY as DK
from tests.support.processes import TEST_ENV
from tests.support.wsgi_thread import serving

#: A camera that exists and needs no permission prompt: Chromium paints a test pattern.
FAKE_CAMERA = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]


def test_the_photo_can_be_taken_with_the_camera(tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    if not shutil.which(CHROMIUM):
        pytest.skip(f"{CHROMIUM} not installed")
    settings: Settings = load_settings(tmp_path / "home", environ=TEST_ENV)
    prepare_device(settings)
    app = create_app(settings)
    with serving(app) as url, sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=[*ARGS, *FAKE_CAMERA], headless=True
        )
        try:
            page = browser.new_page()
            page.set_default_timeout(15_000)
            page.goto(f"{url}/masuk")
            page.select_option("select[name=operator]", OPERATOR)
            page.fill("input[name=pin]", PIN)
            page.click("button[type=submit]")
            page.goto(f"{url}/rekam")
            page.click(".camera-open")
            page.click(".camera-shoot")  # shown once the camera's frames arrive
            page.wait_for_selector(".camera-note:has-text('Foto kamera siap')")
            page.fill("#nama", "MARIA GORETTI")
            page.click("button[value=draft]")
            page.wait_for_url(f"{url}/antrean")
        finally:
            browser.close()
    with FieldClient(settings=settings) as device:
        (draft,) = device.drafts(data_key=DK)
    photo = draft.files["photo"]
    assert photo.media_type == "image/jpeg" and photo.filename == "kamera.jpg"
    assert photo.read(DK)[:3] == b"\xff\xd8\xff"  # a real JPEG from the camera ...
    assert photo.path.read_bytes()[:3] != b"\xff\xd8\xff"  # ... kept under the data key
    assert photo.size >= 2048 and draft.form["nama"] == "MARIA GORETTI"
