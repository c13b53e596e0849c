"""Headless Chromium over the operator's web app (``jemput-field ui``), all real processes.

An operator logs in offline with a PIN, records a resident through the form (files per role,
one finger by exception), saves once despite a double click, and syncs when the server is back;
a reload during the sync loses nothing; before and after the sync no byte under the laptop's
home folder gives away the resident's NIK, name, address or biometric files. Browser set-up in
conftest.py; saves field-form.png and field-queue.png into ``shots``.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from field_client.client import FieldClient
from field_client.config import load_settings
from shared.vocab import BIOMETRIC_ROLES
from tests.support.browser import FieldUI, register_laptop
from tests.support.field import biometric_files
from tests.support.field_ui import OPERATOR, PIN, prepare_device
from tests.support.payloads import payload
from tests.support.processes import (
    TEST_ENV,
    FieldCLI,
    ServerProcess,
    add_operator,
    home_bytes,
    readable,
)

pytestmark = pytest.mark.e2e
TEAM = "TIM-1"
KECAMATAN = "61.09.04"
#: A finger the resident cannot give (recorded as an exception with a reason, not a file).
MISSING_FINGER = "finger_l_little"
BAD_NIK = "6109049908900001"  # day 99: no such birth date
TIMEOUT_MS = 15_000
SELECTS = ("jenis_kelamin", "golongan_darah", "desa_kode", "agama", "status_perkawinan",
           "pekerjaan", "kewarganegaraan")


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[tuple[ServerProcess, FieldCLI, FieldUI]]:
    """A server (started) and a field home with the web app (not started); all stopped after."""
    instance = tmp_path / "instance"
    instance.mkdir()
    server = ServerProcess(instance)
    cli = FieldCLI(tmp_path / "field-home")
    ui = FieldUI(cli.home)
    try:
        server.cli("init")
        server.start(workers=1)
        yield server, cli, ui
    finally:
        ui.stop()
        server.stop()


def new_page(browser: Any) -> Any:
    page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="id-ID")
    page.set_default_timeout(TIMEOUT_MS)
    return page


def log_in(page: Any, url: str, pin: str) -> None:
    page.goto(f"{url}/masuk")
    page.select_option("select[name=operator]", OPERATOR)
    page.fill("input[name=pin]", pin)
    page.click("form.login button[type=submit]")


def status_json(cli: FieldCLI) -> dict[str, Any]:
    done = cli.run("status", "--json", timeout=30)
    assert done.returncode == 0, done.stdout + done.stderr
    found: dict[str, Any] = json.loads(done.stdout)
    return found


def test_operator_records_offline_saves_once_and_syncs_later(
    processes: tuple[ServerProcess, FieldCLI, FieldUI], browser: Any, shots: Path,
    tmp_path: Path,
) -> None:
    server, cli, ui = processes
    pin = add_operator(server, OPERATOR, TEAM, "Suryadi")
    register_laptop(server, cli, TEAM, KECAMATAN)
    server.stop()  # from here on the laptop is offline
    ui.start()
    resident = payload()
    files = biometric_files(tmp_path / "scans", skip=(MISSING_FINGER,))

    page = new_page(browser)
    log_in(page, ui.url, pin)
    page.wait_for_selector("h1:has-text('Antrean rekaman')")
    assert "Suryadi (op.suryadi)" in page.inner_text("header")

    page.click("nav >> text=Rekam baru")
    page.wait_for_selector("#enroll-form")
    # The NIK is checked while it is typed: a wrong one is named at once, then corrected.
    page.fill("#nik", BAD_NIK)
    page.wait_for_selector("#nik-info.bad")
    assert page.inner_text("#nik-info").strip()
    page.fill("#nik", resident["nik"])
    for name, value in resident.items():
        if name in SELECTS:
            page.select_option(f"#{name}", value)
        elif name != "nik":
            page.fill(f"#{name}", value)
    page.wait_for_selector("#nik-info.good")
    assert page.inner_text("#nik-info").startswith("NIK sah")
    desa = page.locator("#desa_kode option:checked").inner_text()
    assert desa.endswith(f"({resident['desa_kode']})") and desa != resident["desa_kode"]
    for role in BIOMETRIC_ROLES:
        if role in files:
            page.set_input_files(f"#file_{role}", str(files[role]))
    page.select_option(f"select[name=exc_{MISSING_FINGER}]", "amputated")
    assert page.is_hidden(".camera-view")  # the camera's video shows only once opened
    page.evaluate("document.activeElement.blur()")
    page.screenshot(path=str(shots / "field-form.png"), full_page=True)

    page.click("button:has-text('Periksa sebelum simpan')")
    page.wait_for_selector("h1:has-text('Periksa sebelum simpan')")
    assert page.inner_text("#review-nik") == resident["nik"]
    assert page.inner_text("#review-desa_kode") == desa  # the name from the office's list
    assert "dikecualikan" in page.inner_text("ul.bio-review")
    action = page.get_attribute("form.once", "action")
    csrf = page.get_attribute("form.once input[name=csrf_token]", "value")
    page.dblclick("#save-record")  # an impatient double click saves one record
    page.wait_for_selector("h1:has-text('Tersimpan aman di laptop')")
    seq = page.inner_text("#record-seq").strip()
    # The same save sent once more (a resubmitted form) shows the same record, makes none.
    again = page.request.post(f"{ui.url}{action}", form={"csrf_token": csrf or ""})
    assert again.ok and f'id="record-seq">{seq}<' in again.text()
    assert seq == "1"
    # Saved through the web app: sealed at once, nothing of the resident readable on disk.
    secrets = [resident["nik"], resident["nama"], resident["alamat"]]
    scans = [path.read_bytes() for path in files.values()]
    assert readable(home_bytes(cli.home), secrets, scans) == []
    offline = status_json(cli)
    assert offline["total"] == 1 and offline["counts"]["ready"] == 1, offline

    page.click("nav >> text=Antrean")
    page.wait_for_selector(f"#rec-{seq}[data-state=ready]")
    assert page.inner_text(f"#rec-{seq} .state") == "siap kirim"
    page.wait_for_selector("#net.offline")
    assert page.inner_text("#net").startswith("Tanpa jaringan")
    assert page.is_hidden("#sync-progress")  # no progress bars while nothing runs
    page.screenshot(path=str(shots / "field-queue.png"), full_page=True)

    server.start(workers=1)  # the network is back
    page.click("#sync-button")
    page.wait_for_selector("#sync-progress:not([hidden])")
    page.reload()  # a refresh while the sync runs loses nothing and repeats nothing
    deadline = time.monotonic() + 60
    while page.get_attribute(f"#rec-{seq}", "data-state") != "complete":
        assert time.monotonic() < deadline, page.inner_text("#sync-panel")
        # The page reloads itself when the run ends; reload by hand if it did not.
        page.wait_for_timeout(1000)
        if page.get_attribute("#sync-panel", "data-running") == "false":
            page.reload()
    assert page.inner_text(f"#rec-{seq} .state") == "lengkap"
    assert "flash success" in (page.get_attribute("#sync-message", "class") or "")

    with sqlite3.connect(server.instance / "jemput.db") as conn:
        rows = conn.execute("SELECT nik FROM enrollment").fetchall()
    assert rows == [(resident["nik"],)]
    online = status_json(cli)
    assert online["total"] == 1 and online["counts"]["complete"] == 1, online
    assert readable(home_bytes(cli.home), secrets, scans) == []  # nor after the sync
    page.close()
    for name in ("field-form.png", "field-queue.png"):
        assert (shots / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_five_wrong_pins_lock_the_app_even_for_the_right_pin(
    tmp_path: Path, browser: Any
) -> None:
    home = tmp_path / "field-home"
    prepare_device(load_settings(home, environ=TEST_ENV))  # registered, operators known; no server
    ui = FieldUI(home)
    try:
        ui.start()
        page = new_page(browser)
        for attempt in range(5):
            log_in(page, ui.url, f"0000000{attempt}")
            page.wait_for_selector("#login-error")
        assert "Terlalu banyak PIN salah" in page.inner_text("#login-error")
        log_in(page, ui.url, PIN)  # the right PIN, but the app is locked
        assert "Terlalu banyak PIN salah" in page.inner_text("#login-error")
        assert page.locator("h1").inner_text() == "Masuk operator"
        page.goto(f"{ui.url}/antrean")
        assert "/masuk" in page.url
        page.close()
    finally:
        ui.stop()
    with FieldClient(settings=load_settings(home, environ=TEST_ENV)) as device:
        assert device.lock_state(OPERATOR)["locked_until"]
        assert device.lock_state("op.maria")["locked_until"] is None  # per operator
