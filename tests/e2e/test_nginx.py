"""The deployed nginx site for real: TLS in front of two gunicorn app servers.

``deploy/nginx/jemput.conf`` (the very file an administrator installs, its placeholders filled
in) runs under Debian's nginx as an ordinary process, with a self-signed certificate for
127.0.0.1, round-robin over two app servers on one instance. The real ``jemput-field`` registers
and syncs records with all their files over HTTPS through it: every tus ``Location`` is
``https://`` on nginx's address (the field client refuses any other), every record completes,
and an office login made through nginx works whichever app server answers.
"""

from __future__ import annotations

import base64
import re
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.support.processes import FieldCLI, ServerProcess, free_port, register, stop_group
from tests.support.recordings import write_recordings

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists(),
                       reason="nginx is not installed (apt-get install nginx)"),
]
SITE = Path(__file__).resolve().parents[2] / "deploy" / "nginx" / "jemput.conf"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
MAIN = """
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
user root;
events {{ worker_connections 256; }}
http {{
    access_log {prefix}/access.log;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    include {prefix}/site.conf;
}}
"""


def certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj",
                    "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    return cert, key


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, list[
        ServerProcess], Path]]:
    """``(https URL of nginx, the two app servers, the certificate)``."""
    monkeypatch.setenv("JEMPUT_TRUSTED_PROXIES", "127.0.0.1")
    monkeypatch.setenv("JEMPUT_SECURE_COOKIES", "1")
    first = ServerProcess.initialised(tmp_path / "instance", workers=1, threads=4)
    second = ServerProcess(tmp_path / "instance")
    second.start(workers=1, threads=4)
    prefix = tmp_path / "nginx"
    prefix.mkdir()
    cert, key = certificate(prefix)
    port = free_port()
    servers = "\n    ".join(f"server 127.0.0.1:{s.port} max_fails=2 fail_timeout=10s;"
                           for s in (first, second))
    text = SITE.read_text()
    for placeholder, value in (("@SERVER_NAME@", "127.0.0.1"), ("@LISTEN@", f"127.0.0.1:{port}"),
                               ("@CERT@", str(cert)), ("@KEY@", str(key)),
                               ("@APP_SERVERS@", servers)):
        text = text.replace(placeholder, value)
    assert "@" not in text, "a placeholder was left"
    (prefix / "site.conf").write_text(text)
    (prefix / "nginx.conf").write_text(MAIN.format(prefix=prefix))
    checked = subprocess.run([NGINX, "-t", "-p", str(prefix), "-c", str(prefix / "nginx.conf")],
                             capture_output=True, text=True, timeout=30)
    assert checked.returncode == 0, checked.stderr
    proc = subprocess.Popen([NGINX, "-p", str(prefix), "-c", str(prefix / "nginx.conf"),
                             "-g", "daemon off;"], start_new_session=True,
                            stderr=subprocess.PIPE)
    url = f"https://127.0.0.1:{port}"
    for _ in range(100):
        try:
            requests.get(url + "/healthz", verify=str(cert), timeout=2)
            break
        except requests.ConnectionError:
            time.sleep(0.1)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))  # the laptop trusts the office's CA
    try:
        yield url, [first, second], cert
    finally:
        stop_group(proc)
        second.stop()
        first.stop()


def test_a_laptop_syncs_through_nginx_over_tls_and_logins_hold_on_both_hosts(
    site: tuple[str, list[ServerProcess], Path], tmp_path: Path
) -> None:
    url, (first, _second), cert = site
    field = FieldCLI(tmp_path / "field-home")
    register(field, first, url)
    batch, expected = write_recordings(tmp_path / "capture", 6, seed=11)
    imported = field.run("import", str(batch))
    assert imported.returncode == 0, imported.stdout + imported.stderr
    synced = field.run("sync")
    assert synced.returncode == 0, synced.stdout + synced.stderr
    with sqlite3.connect(f"file:{first.instance / 'jemput.db'}?mode=ro", uri=True) as conn:
        states = dict(conn.execute("SELECT state, count(*) FROM enrollment GROUP BY state"))
        blobs = {sha: size for sha, size in conn.execute("SELECT sha256, size FROM blob")}
        locations = [row[0] for row in conn.execute("SELECT count(*) FROM upload")]
    assert sum(states.values()) == 6 and "received" not in states
    assert blobs == expected and locations == [len(expected)]
    # The tus answer names nginx's https address (the client refuses any other origin).
    protocol = {"Jemput-Protocol": "2"}
    device = requests.post(url + "/api/v1/devices", verify=str(cert), timeout=10,
                           headers=protocol, json={"code": first.device_code(), "name": "x"})
    assert device.status_code == 201, device.text
    meta = {"sha256": "ab" * 32, "size": "100", "key_id": device.json()["office_key"]["kid"],
            "media_type": "image/jpeg"}
    created = requests.post(url + "/api/v1/uploads", verify=str(cert), timeout=10, headers={
        **protocol, "Tus-Resumable": "1.0.0", "Upload-Length": "148",
        "Authorization": f"Bearer {device.json()['token']}",
        "Upload-Metadata": ",".join(f"{k} {base64.b64encode(v.encode()).decode()}"
                                    for k, v in meta.items())})
    assert created.status_code == 201, created.text
    assert created.headers["Location"].startswith(url + "/api/v1/uploads/")
    access = (tmp_path / "nginx" / "access.log").read_text()
    assert access.count("PATCH /api/v1/uploads/") >= len(expected)
    # An office login through nginx holds whichever app server answers the next pages.
    printed = first.cli("create-user", "rina", "--role", "reviewer")
    password = printed.strip().splitlines()[-1].strip()
    browser = requests.Session()
    browser.verify = str(cert)
    page = browser.get(url + "/office/login", timeout=10)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    # Over HTTPS the CSRF check also wants the same-origin Referer a browser sends.
    login = browser.post(url + "/office/login", allow_redirects=False, timeout=10,
                         headers={"Referer": url + "/office/login"}, data={
                             "username": "rina", "password": password,
                             "csrf_token": token.group(1)})
    assert login.status_code == 302 and login.headers["Location"].startswith("/office")
    for _ in range(4):  # round robin: both app servers answer some of these
        assert browser.get(url + "/office/", timeout=10, allow_redirects=False).status_code == 200
