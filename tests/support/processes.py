"""Real processes on loopback: the server under gunicorn, the field client's ``jemput-field``.

One harness for the end-to-end tests, the browser tests and the benchmarks. The server runs as
its own process group so a test can ``kill -9`` it mid-push and start it again on the same
database; the client runs as ``jemput-field`` subprocesses over its own home folder.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

BIN = Path(sys.executable).parent
#: A one-time device registration code as ``jemput-server device-code`` prints it.
CODE = re.compile(r"\b[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}\b")
#: ``jemput-field``'s exit status when the network (or the server) is down: try again later.
EX_TEMPFAIL = 75
#: Both sides of the suite's real processes derive PIN keys at libsodium's floor cost (a
#: production install refuses it; the real cost is measured in bench/).
TEST_ENV = {"JEMPUT_TEST_KDF": "1"}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_up(url: str, proc: subprocess.Popen[Any] | None = None, *,
                  log: Path | None = None, timeout: float = 30) -> None:
    """Wait until ``url`` answers 200; fail at once if ``proc`` ended (showing ``log``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        if proc is not None:
            assert proc.poll() is None, log.read_text() if log and log.exists() else url
        time.sleep(0.1)
    raise AssertionError(f"{url} did not come up")


def stop_group(proc: subprocess.Popen[Any]) -> None:
    """SIGTERM a process group started with ``start_new_session``; SIGKILL it after 10 s."""
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@dataclass
class ServerProcess:
    """``gunicorn 'server:create_app()'`` on loopback over one instance folder.

    Restartable after a kill: :meth:`start` again serves the same instance on the same port.
    """

    instance: Path
    database_url: str | None = None
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @classmethod
    def initialised(cls, instance: Path, *, workers: int = 2, threads: int = 4,
                    log_level: str | None = None, **options: Any) -> ServerProcess:
        """``jemput-server init`` on ``instance`` (made if missing), then :meth:`start`."""
        instance.mkdir(parents=True, exist_ok=True)
        server = cls(instance, **options)
        server.cli("init")
        server.start(workers=workers, threads=threads, log_level=log_level)
        return server

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        """Where gunicorn's output goes (appended to across restarts)."""
        return self.instance / "server.log"

    @property
    def env(self) -> dict[str, str]:
        env = dict(os.environ, JEMPUT_INSTANCE_PATH=str(self.instance), **TEST_ENV)
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
        """A fresh one-time registration code for ``team``."""
        match = CODE.search(self.cli("device-code", "--team", team))
        assert match, "device-code printed no code"
        return match.group(0)

    def device_token(self, session: requests.Session, team: str = "BENCH",
                     name: str = "bench") -> str:
        """Register a new device over HTTP with a fresh code; return its bearer token."""
        answer = session.post(self.url + "/api/v1/devices",
                              json={"code": self.device_code(team), "name": name}, timeout=30)
        answer.raise_for_status()
        return str(answer.json()["token"])

    def start(self, workers: int = 2, threads: int = 4, log_level: str | None = None) -> None:
        """Start gunicorn and wait until ``/healthz`` answers."""
        options = ["--log-level", log_level] if log_level else []
        log = open(self.log, "ab")  # noqa: SIM115 - owned by the process
        self.proc = subprocess.Popen(
            [
                str(BIN / "gunicorn"),
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                str(workers),
                "--threads",
                str(threads),
                "--graceful-timeout",
                "2",
                *options,
                "server:create_app()",
            ],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            wait_until_up(f"{self.url}/healthz", self.proc, log=self.log)
        except AssertionError as exc:
            raise AssertionError(f"server did not become healthy: {exc}") from None

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
            env=dict(os.environ, PYTHONUNBUFFERED="1", **TEST_ENV),
        )

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [str(BIN / "jemput-field"), "--home", str(self.home), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
            env=dict(os.environ, **TEST_ENV),
        )


def register(field: FieldCLI, server: ServerProcess, url: str) -> None:
    """``jemput-field register`` through ``url`` (the server, or a proxy in front of it)."""
    done = field.run("register", "--server", url, "--code", server.device_code(), "--name", "e2e")
    assert done.returncode == 0, done.stdout + done.stderr
