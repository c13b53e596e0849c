"""nginx in front of the app servers as deployed: deploy/nginx/jemput.conf under Debian's nginx.

The site file an administrator installs (its placeholders filled in) runs under the system's
nginx as an ordinary process of the test, with a self-signed certificate for the loopback
addresses it is reached on. The main configuration around it is the suite's own: everything
(pid, logs, temporary folders) under one prefix folder, ``user root`` (the suite runs as root
and the workers must read that folder), and an access log of one JSON object per request with
its duration (``$request_time``), its status and the app server that answered
(``$upstream_addr``), so a test can assert that no request waited too long and that round
robin reached every app server. Used by tests/support/cluster.py (tests/e2e/test_cluster.py)
and the cluster benchmark.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from tests.support.processes import free_port, stop_group

#: The site file an administrator installs.
SITE = Path(__file__).resolve().parents[2] / "deploy" / "nginx" / "jemput.conf"
START_TIMEOUT = 30.0
#: One JSON object per request: what the tests read back (no query string: uri, not request).
LOG_FORMAT = (
    "'{\"time\":\"$time_iso8601\",\"method\":\"$request_method\",\"uri\":\"$uri\","
    "\"status\":$status,\"request_time\":$request_time,\"upstream_addr\":\"$upstream_addr\","
    "\"upstream_status\":\"$upstream_status\",\"bytes_sent\":$body_bytes_sent,"
    "\"request_length\":$request_length,\"request_id\":\"$request_id\"}'"
)
MAIN = """
worker_processes {workers};
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
user root;
events {{ worker_connections 512; }}
http {{
    log_format timed escape=json {log_format};
    access_log {prefix}/access.log timed;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    include {prefix}/site.conf;
}}
"""


def nginx_binary() -> str | None:
    """Debian's nginx (``/usr/sbin`` is not always on a test's PATH), or None."""
    found = shutil.which("nginx")
    if found:
        return found
    return "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None


def certificate(folder: Path, addresses: Sequence[str] = ("127.0.0.1",)) -> tuple[Path, Path]:
    """A self-signed certificate for the IP ``addresses`` and its key, in ``folder``."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    names = ",".join(f"IP:{address}" for address in dict.fromkeys(addresses))
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj",
                    f"/CN={addresses[0]}", "-addext", f"subjectAltName={names}",
                    "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    return cert, key


def site_config(*, listen: str, server_name: str, cert: Path, key: Path,
                upstreams: Sequence[str]) -> str:
    """``deploy/nginx/jemput.conf`` with its placeholders filled in as docs/deploy.md does."""
    servers = "\n    ".join(f"server {upstream} max_fails=2 fail_timeout=10s;"
                           for upstream in upstreams)
    text = SITE.read_text()
    for placeholder, value in (("@SERVER_NAME@", server_name), ("@LISTEN@", listen),
                               ("@CERT@", str(cert)), ("@KEY@", str(key)),
                               ("@APP_SERVERS@", servers)):
        text = text.replace(placeholder, value)
    if "@" in text:
        raise ValueError("a placeholder of the nginx site was left unfilled")
    return text


@dataclass(frozen=True)
class Access:
    """One line of the access log."""

    method: str
    uri: str
    status: int
    request_time: float  # seconds, from the first byte read from the client to the last sent
    upstream_addr: str  # "127.0.0.1:PORT", several joined by ", " when nginx tried another
    upstream_status: str

    @classmethod
    def parse(cls, line: str) -> Access:
        item: dict[str, Any] = json.loads(line)
        return cls(method=item["method"], uri=item["uri"], status=int(item["status"]),
                   request_time=float(item["request_time"]),
                   upstream_addr=item["upstream_addr"], upstream_status=item["upstream_status"])


@dataclass
class Nginx:
    """nginx serving the deployed site over TLS on ``host:port``, round robin over
    ``upstreams`` (``HOST:PORT`` of the app servers). Everything lives under ``prefix``."""

    prefix: Path
    upstreams: Sequence[str]
    host: str = "127.0.0.1"
    port: int = field(default_factory=free_port)
    workers: int = 1
    #: The certificate and key to serve (another nginx's, say); made in ``prefix`` when None.
    tls: tuple[Path, Path] | None = None
    proc: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        self.prefix.mkdir(parents=True, exist_ok=True)
        if self.tls is None:
            self.tls = certificate(self.prefix, ("127.0.0.1", self.host))

    @property
    def cert(self) -> Path:
        """The certificate clients must trust (``REQUESTS_CA_BUNDLE``)."""
        assert self.tls is not None
        return self.tls[0]

    @property
    def key(self) -> Path:
        assert self.tls is not None
        return self.tls[1]

    @property
    def url(self) -> str:
        return f"https://{self.host}:{self.port}"

    @property
    def access_log(self) -> Path:
        return self.prefix / "access.log"

    @property
    def error_log(self) -> Path:
        return self.prefix / "error.log"

    def write_config(self) -> Path:
        """The site and the main configuration under the prefix, checked by ``nginx -t``."""
        binary = _binary()
        (self.prefix / "site.conf").write_text(site_config(
            listen=f"{self.host}:{self.port}", server_name=self.host, cert=self.cert,
            key=self.key, upstreams=self.upstreams))
        main = self.prefix / "nginx.conf"
        main.write_text(MAIN.format(prefix=self.prefix, workers=self.workers,
                                    log_format=LOG_FORMAT))
        checked = subprocess.run([binary, "-t", "-p", str(self.prefix), "-c", str(main)],
                                 capture_output=True, text=True, timeout=30)
        if checked.returncode != 0:
            raise AssertionError(f"nginx -t refused the configuration:\n{checked.stderr}")
        return main

    def start(self) -> None:
        """Start nginx in the foreground of its own process group; wait until ``/healthz``
        answers 200 through it (an app server behind it is up)."""
        main = self.write_config()
        self.proc = subprocess.Popen(
            [_binary(), "-p", str(self.prefix), "-c", str(main), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        self.wait_until_up()

    def wait_until_up(self, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"nginx stopped at start:\n{self._errors()}")
            try:
                if requests.get(self.url + "/healthz", verify=str(self.cert),
                                timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise AssertionError(f"nginx did not answer within {timeout} s:\n{self._errors()}")

    def stop(self) -> None:
        if self.proc is not None:
            stop_group(self.proc)
            self.proc = None

    def entries(self) -> list[Access]:
        """Every request nginx logged so far."""
        if not self.access_log.exists():
            return []
        return [Access.parse(line) for line in self.access_log.read_text().splitlines()
                if line.strip()]

    def _errors(self) -> str:
        return self.error_log.read_text() if self.error_log.exists() else "(no error log)"


def _binary() -> str:
    binary = nginx_binary()
    if binary is None:
        raise RuntimeError("nginx is not installed (apt-get install nginx)")
    return binary
