"""Headless Chromium for the browser tests: Debian's ``/usr/bin/chromium`` through Playwright.

Never a downloaded browser (no ``playwright install``). A test that asks for ``browser`` is
skipped where Chromium or Playwright is missing. ``shots`` is the folder screenshots go to: the
test's temporary folder, or ``$JEMPUT_SCREENSHOT_DIR`` (``JEMPUT_SCREENSHOT_DIR=docs`` refreshes
the README's pictures); a test run never rewrites tracked files.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.browser import ARGS, CHROMIUM


@pytest.fixture
def browser() -> Iterator[object]:
    sync_api = pytest.importorskip("playwright.sync_api")
    if not shutil.which(CHROMIUM):
        pytest.skip(f"{CHROMIUM} not installed")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS,
                                              headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    folder = os.environ.get("JEMPUT_SCREENSHOT_DIR")
    path = Path(folder) if folder else tmp_path / "screenshots"
    path.mkdir(parents=True, exist_ok=True)
    return path
