"""The browser tests' helpers: which Chromium, and the operator web app as a real process.

``CHROMIUM`` and ``ARGS``: Debian's ``/usr/bin/chromium`` (or ``$JEMPUT_CHROMIUM``) headless,
launched by the ``browser`` fixture (tests/browser/conftest.py). :class:`FieldUI` runs
``jemput-field ui``; ``register_laptop`` registers the laptop for it (the operator comes from
``tests.support.processes.add_operator``, whose PIN the web app's login then takes). The server
is a real gunicorn process and the field client the real ``jemput-field`` command over its own
home folder (tests/support/processes.py).
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from tests.support.processes import (
    BIN,
    CODE,
    TEST_ENV,
    FieldCLI,
    ServerProcess,
    free_port,
    stop_group,
)

CHROMIUM = os.environ.get("JEMPUT_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]


@dataclass
class FieldUI:
    """``jemput-field --home H ui --port P`` in its own process group."""

    home: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 20) -> None:
        log = open(self.home.parent / "field-ui.log", "ab")  # noqa: SIM115 - owned by the process
        self.proc = subprocess.Popen(
            [str(BIN / "jemput-field"), "--home", str(self.home), "ui", "--port", str(self.port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=dict(os.environ, PYTHONUNBUFFERED="1", **TEST_ENV),
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                answer = requests.get(f"{self.url}/masuk", timeout=1, allow_redirects=False)
                if answer.status_code in (200, 302):
                    return
            except requests.RequestException:
                pass
            assert self.proc.poll() is None, self.log()
            time.sleep(0.1)
        raise AssertionError(f"jemput-field ui did not answer:\n{self.log()}")

    def log(self) -> str:
        path = self.home.parent / "field-ui.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.proc is not None:
            stop_group(self.proc)
            self.proc = None


def register_laptop(server: ServerProcess, cli: FieldCLI, team: str, kecamatan: str) -> None:
    """Register the field home with a one-time code for ``team`` working in ``kecamatan``."""
    printed = server.cli("device-code", "--team", team, "--kecamatan", kecamatan)
    code = CODE.search(printed)
    assert code, printed
    done = cli.run("register", "--server", server.url, "--code", code.group(0),
                   "--name", "laptop-browser", timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
