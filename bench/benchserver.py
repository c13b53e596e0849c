"""The server under benchmark: ``gunicorn 'server:create_app()'`` on loopback, scratch instance."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

BIN = Path(sys.executable).parent
CODE = re.compile(r"\b[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}\b")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_healthy(url: str) -> None:
    """Wait up to 30 s for ``url`` to answer 2xx."""
    for _ in range(300):
        try:
            requests.get(url, timeout=1).raise_for_status()
            return
        except requests.RequestException:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not come up")


class Server:
    """``gunicorn 'server:create_app()'`` on loopback over a scratch instance folder."""

    def __init__(self, instance: Path, workers: int, threads: int = 1) -> None:
        self.instance = instance
        self.env = dict(os.environ, JEMPUT_INSTANCE_PATH=str(instance))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.cli("init")
        self.proc = subprocess.Popen(
            [str(BIN / "gunicorn"), "-b", f"127.0.0.1:{self.port}", "-w", str(workers),
             "--threads", str(threads), "--log-level", "warning", "server:create_app()"],
            env=self.env, start_new_session=True,
        )
        wait_healthy(self.url + "/healthz")

    def cli(self, *args: str) -> str:
        """Run ``jemput-server ARGS`` on this instance; return what it printed."""
        done = subprocess.run([str(BIN / "jemput-server"), *args], env=self.env,
                              capture_output=True, text=True, check=True)
        return done.stdout + done.stderr

    def device_token(self, session: requests.Session) -> str:
        """Register a new device with a fresh one-time code; return its bearer token."""
        code = CODE.search(self.cli("device-code", "--team", "BENCH"))
        assert code
        answer = session.post(self.url + "/api/v1/devices",
                              json={"code": code.group(0), "name": "bench"}, timeout=30)
        answer.raise_for_status()
        return str(answer.json()["token"])

    def stop(self) -> None:
        """SIGTERM the gunicorn process group and wait."""
        os.killpg(self.proc.pid, signal.SIGTERM)
        self.proc.wait(timeout=30)
