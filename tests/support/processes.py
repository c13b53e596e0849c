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
#: production install refuses it; the real cost is measured in bench/). The coverage summary's
#: refresh follows a check run at once (not a minute later), so waiting for a server's jobs to
#: end includes it.
TEST_ENV = {"JEMPUT_TEST_KDF": "1", "JEMPUT_COVERAGE_REFRESH_SECONDS": "0.05"}


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
    #: Field operators made on it (username -> PIN), for the laptops registered to it.
    operators: dict[str, str] = field(default_factory=dict)
    #: Variables set last in its environment (over everything else), e.g. a cluster's shared
    #: configuration (tests/support/cluster.py).
    extra_env: dict[str, str] = field(default_factory=dict)

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
            if self.database_url.startswith(("postgresql", "postgres:")):
                # Shared configuration on PostgreSQL: `init` makes the ring at JEMPUT_KEYRING.
                env.setdefault("JEMPUT_SECRET_KEY", "jemput-test-secret-key-shared-by-every-host")
                env.setdefault("JEMPUT_KEYRING", str(self.instance / "keyring.json"))
        env.update(self.extra_env)
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


#: Commands that open data under the device key: they read the operator's PIN.
PIN_COMMANDS = frozenset({"enroll", "import", "fix", "targets"})
PIN_LINE = re.compile(r"PIN \(catat[^:]*\):\s*(\d{8})\b")


@dataclass
class FieldCLI:
    """The real ``jemput-field`` command over one home folder.

    Once ``operator`` and ``pin`` are known (:func:`register` makes the operator), the commands
    that need a PIN get it as a script would: ``--pin-stdin`` and the PIN on standard input.
    """

    home: Path
    operator: str | None = None
    pin: str | None = None

    def run(self, *args: str, timeout: float = 120,
            stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        extra: list[str] = []
        if stdin is None and self.pin and args and (
                args[0] in PIN_COMMANDS or (args[0] == "records" and "--details" in args)):
            extra, stdin = ["--pin-stdin"], self.pin + "\n"
        env = dict(os.environ, PYTHONUNBUFFERED="1", **TEST_ENV)
        if self.operator:
            env["JEMPUT_OPERATOR"] = self.operator
        return subprocess.run(
            [str(BIN / "jemput-field"), "--home", str(self.home), *args, *extra],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env=env,
            input=stdin if stdin is not None else "",
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


def add_operator(server: ServerProcess, username: str, team: str, nama: str) -> str:
    """Create a field operator on the server; its PIN (printed once)."""
    printed = server.cli("operator-add", username, "--team", team, "--nama", nama)
    found = PIN_LINE.search(printed)
    assert found, printed
    return found.group(1)


def register(field: FieldCLI, server: ServerProcess, url: str, team: str = "TIM-1",
             operator: str = "op.e2e") -> None:
    """``jemput-field register`` through ``url`` (the server, or a proxy in front of it), with
    an operator of ``team`` made first (once per server), whose PIN ``field`` then uses."""
    made = server.operators.get(operator)
    if made is None:
        made = server.operators[operator] = add_operator(server, operator, team, "Operator E2E")
    field.operator, field.pin = operator, made
    done = field.run("register", "--server", url, "--code", server.device_code(team),
                     "--name", "e2e")
    assert done.returncode == 0, done.stdout + done.stderr


def home_bytes(home: Path) -> bytes:
    """Every byte of every file under a field home (the database, its WAL and journals, the
    sealed files, drafts, anything else), joined by a separator no needle crosses."""
    parts = [path.read_bytes() for path in sorted(home.rglob("*")) if path.is_file()]
    assert parts, f"nothing under {home}"
    return b"\n\x00SEP\x00\n".join(parts)


def readable(haystack: bytes, texts: list[str], files: list[bytes], window: int = 32,
             ) -> list[str]:
    """What of a resident ``haystack`` gives away: each of ``texts`` (a NIK, a name, an
    address; any case, UTF-8 or UTF-16) and each word of six letters or more of them, and how
    many ``window``-byte slices (at every offset) of the biometric ``files`` it holds."""
    found = []
    folded = haystack.lower()
    for text in texts:
        lowered = text.lower()
        needles = {lowered.encode(), lowered.encode("utf-16-le")}
        needles |= {word.encode() for word in lowered.split() if len(word) >= 6}
        found += [f"{needle!r} (of {text!r})" for needle in sorted(needles) if needle in folded]
    slices = {data[i:i + window] for data in files for i in range(len(data) - window + 1)}
    hits = sum(1 for i in range(len(haystack) - window + 1) if haystack[i:i + window] in slices)
    if hits:
        found.append(f"{hits} {window}-byte slices of biometric files")
    return found
