"""End-to-end fixtures: a real server process (gunicorn), the real field client CLI, a proxy.

The server runs as its own process group so a test can ``kill -9`` it mid-push and start it
again on the same database; the client runs as ``jemput-field`` subprocesses.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

BIN = Path(sys.executable).parent
CODE = re.compile(r"\b[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}\b")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ServerProcess:
    """A gunicorn server on loopback over one instance folder, restartable after a kill."""

    instance: Path
    database_url: str | None = None
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        env = dict(os.environ, JEMPUT_INSTANCE_PATH=str(self.instance))
        if self.database_url:
            env["JEMPUT_DATABASE_URL"] = self.database_url
        return env

    def cli(self, *args: str) -> str:
        """Run ``jemput-server ARGS`` against this instance and return its output."""
        done = subprocess.run(
            [str(BIN / "jemput-server"), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout + done.stderr

    def device_code(self, team: str = "TIM-1") -> str:
        match = CODE.search(self.cli("device-code", "--team", team))
        assert match, "device-code printed no code"
        return match.group(0)

    def start(self, workers: int = 2) -> None:
        log = open(self.instance / "server.log", "ab")  # noqa: SIM115 - owned by the process
        self.proc = subprocess.Popen(
            [
                str(BIN / "gunicorn"),
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                str(workers),
                "--threads",
                "4",
                "--graceful-timeout",
                "2",
                "server:create_app()",
            ],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            assert self.proc.poll() is None, (self.instance / "server.log").read_text()
            time.sleep(0.1)
        raise AssertionError("server did not become healthy")

    def kill9(self) -> None:
        """SIGKILL the whole server process group: no graceful shutdown, no cleanup."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)
        self.proc = None

    def stop(self) -> None:
        if self.proc is not None:
            stop_group(self.proc)
            self.proc = None


def stop_group(proc: subprocess.Popen[Any]) -> None:
    """SIGTERM a process group started with ``start_new_session``; SIGKILL it after 10 s."""
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    """An initialised server process on SQLite in a fresh instance folder."""
    instance = tmp_path / "instance"
    instance.mkdir()
    proc = ServerProcess(instance)
    proc.cli("init")
    proc.start()
    yield proc
    proc.stop()


@dataclass
class FieldCLI:
    """The real ``jemput-field`` command over one home folder."""

    home: Path

    def run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(BIN / "jemput-field"), "--home", str(self.home), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env=dict(os.environ, PYTHONUNBUFFERED="1"),
        )

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [str(BIN / "jemput-field"), "--home", str(self.home), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )


@pytest.fixture
def field(tmp_path: Path) -> FieldCLI:
    home = tmp_path / "field-home"
    return FieldCLI(home)
