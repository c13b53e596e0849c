"""No personal data in the logs, and every log line names its request, end to end.

A real server (gunicorn, its own and the app's loggers at debug, the access log on in the
format docs/admin/production.md gives) and the real ``jemput-field`` (``--verbose``): register,
enroll and import residents with all 14 files, sync, then an office login and a review over the
office API (lists, a record, its photo, a query holding a NIK, decisions). Afterwards neither
the server's log nor the client's output holds any NIK, name or address it pushed, nor any
32-byte slice of their files; and the request ids answered in ``X-Request-Id`` are the ones the
server's log lines and access log name.
"""

from __future__ import annotations

import json
import re
import secrets
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.support.jobs import wait_for_jobs
from tests.support.processes import FieldCLI, ServerProcess, readable, register
from tests.support.recordings import named_recordings

pytestmark = pytest.mark.e2e

#: gunicorn's access log as docs/admin/production.md configures it: the path without its
#: query (a query can hold a NIK) and the request id the app answered.
ACCESS_FORMAT = '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms req=%({x-request-id}o)s'
#: Residents whose names, addresses and words occur nowhere else.
PEOPLE = [
    ("HILDEGARDIS KUSUMAWATI", "DUSUN SELIMPAT HULU"),
    ("YOHANES BERCHMANS NYARUNG", "DUSUN TANJUNG MERAKAI"),
    ("PETRONELA ANGGRAINI SIMANJUNTAK", "DUSUN LEMBAH KERAPUK"),
    ("FRANSISKUS XAVERIUS LUMBANRAJA", "DUSUN NANGA BEMBAN"),
]
OFFICE = "/api/v1/office"
HEX_ID = re.compile(r"req=([0-9a-f]{32})$")
#: A line of the app's own loggers, in server.core.logs.FORMAT.
APP_LINE = re.compile(r"^\d{4}-\d\d-\d\d [\d:,]+ [A-Z]+ server\.")


class LoggedServer(ServerProcess):
    """The server with the app's loggers at debug and gunicorn's access log on."""

    @property
    def env(self) -> dict[str, str]:
        return {**super().env, "JEMPUT_LOG_LEVEL": "DEBUG",
                "GUNICORN_CMD_ARGS": f"--access-logfile - --access-logformat '{ACCESS_FORMAT}'"}


def recordings(folder: Path, seed: int) -> tuple[list[dict[str, Any]], list[dict[str, str]],
                                                  list[bytes]]:
    """Payloads of ``PEOPLE``, each one's 14 files (random bytes) by role, and every file."""
    return named_recordings(folder, PEOPLE, seed)


def run(field: FieldCLI, outputs: list[str], *args: str, pin: bool = False) -> str:
    """``jemput-field --verbose ARGS`` (with the PIN on stdin when asked); its stderr is kept
    in ``outputs``, its stdout returned."""
    extra, stdin = (["--pin-stdin"], f"{field.pin}\n") if pin else ([], None)
    done = field.run("--verbose", *args, *extra, stdin=stdin)
    outputs.append(done.stderr)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


class Browser:
    """An office browser: the session cookie (Secure, so sent by hand over plain HTTP)."""

    def __init__(self, server: ServerProcess) -> None:
        self.server, self.cookie = server, ""

    def request(self, method: str, path: str, request_id: str | None = None,
                **options: Any) -> requests.Response:
        headers = {"Cookie": f"jemput_office={self.cookie}"} if self.cookie else {}
        if request_id:
            headers["X-Request-Id"] = request_id
        answer = requests.request(method, self.server.url + path, headers=headers,
                                  allow_redirects=False, timeout=30, **options)
        self.cookie = answer.cookies.get("jemput_office") or self.cookie
        return answer


def printed(output: str) -> str:
    """The secret a command prints indented on its own line (its debug log lines follow)."""
    found = re.search(r"^  (\S+)$", output, re.MULTILINE)
    assert found, output
    return found.group(1)


def office_review(server: ServerProcess, payloads: list[dict[str, Any]],
                  login_id: str) -> None:
    """A reviewer logs in (the login request sent with ``login_id``) and, over the office API,
    lists, opens and decides every case; also asks with a NIK in a query."""
    password = printed(server.cli("create-user", "wulan", "--role", "supervisor"))
    browser = Browser(server)
    page = browser.request("GET", "/office/login").text
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found
    answer = browser.request("POST", "/office/login", request_id=login_id, data={
        "username": "wulan", "password": password, "csrf_token": found.group(1)})
    assert answer.status_code == 302 and answer.headers["X-Request-Id"] == login_id
    assert browser.request("GET", "/office/records").status_code == 200

    token = printed(server.cli("user-token", "wulan"))
    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {token}"
    listed = api.get(f"{server.url}{OFFICE}/records", timeout=30).json()
    assert listed["total"] == len(payloads)
    first = listed["items"][0]["id"]
    assert api.get(f"{server.url}{OFFICE}/records/{first}", timeout=30).status_code == 200
    assert api.get(f"{server.url}{OFFICE}/records/{first}/files/photo",
                   timeout=30).status_code == 200
    # A NIK in a query string (refused as an unknown parameter) stays out of the access log.
    api.get(f"{server.url}{OFFICE}/records", params={"nik": payloads[0]["nik"]}, timeout=30)
    cases = api.get(f"{server.url}{OFFICE}/cases", timeout=30).json()["items"]
    assert cases, "the empty registry leaves every record a case"
    for number, case in enumerate(cases):
        action = ("approve", "needs_fix", "reject")[number % 3]
        view = api.get(f"{server.url}{OFFICE}/cases/{case['id']}", timeout=30).json()
        answer = api.post(f"{server.url}{OFFICE}/cases/{case['id']}/resolve", timeout=30, json={
            "action": action, "version": view["case"]["version"],
            "reason": None if action == "approve" else "Foto buram, ulangi"})
        assert answer.status_code == 200, answer.text


def test_a_full_run_logs_no_personal_data_and_names_every_request(tmp_path: Path) -> None:
    server = LoggedServer.initialised(tmp_path / "instance", workers=2, threads=4,
                                      log_level="debug")
    field = FieldCLI(tmp_path / "field-home")
    outputs: list[str] = []
    login_id = f"e2e-login-{secrets.token_hex(6)}"
    try:
        register(field, server, server.url)
        payloads, paths, files = recordings(tmp_path / "capture", seed=9)
        # The first resident through ``enroll``, the others through ``import``.
        card = tmp_path / "card.json"
        card.write_text(json.dumps(payloads[0]), encoding="utf-8")
        run(field, outputs, "enroll", "--json", str(card), "--operator", "op.e2e",
            *[arg for role, path in paths[0].items() for arg in ("--file", f"{role}={path}")],
            pin=True)
        batch = tmp_path / "batch.jsonl"
        batch.write_text("".join(
            json.dumps({"operator": "op.e2e", "payload": body, "files": roles}) + "\n"
            for body, roles in zip(payloads[1:], paths[1:], strict=True)), encoding="utf-8")
        run(field, outputs, "import", str(batch), pin=True)
        run(field, outputs, "sync")
        states = json.loads(run(field, outputs, "records", "--json"))
        assert [r["state"] for r in states] == ["complete"] * len(PEOPLE)
        wait_for_jobs(server.instance)  # the checks, in the server's job thread

        office_review(server, payloads, login_id)
        run(field, outputs, "sync")  # the decisions come back to the laptop
        health = requests.get(server.url + "/healthz", timeout=10)
        ready = requests.get(server.url + "/readyz", timeout=10)
        assert ready.status_code == 200, ready.text
    finally:
        server.stop()  # the log is whole once gunicorn has exited
    log = server.log.read_text(encoding="utf-8", errors="replace")

    # The scan looks where the data went: requests, pushes and uploads are all in the log ...
    # (a file that fits one chunk goes with its creation: tus creation-with-upload)
    assert "POST /api/v1/sync/push" in log and '"POST /api/v1/uploads"' in log
    assert "complete: every file arrived" in log
    assert len(re.findall(r"Device \S+ registered .*", log)) == 1
    # ... and finds no NIK, name, address or slice of a file, in any case or encoding.
    texts = [str(body[key]) for body in payloads for key in ("nik", "nama", "alamat")]
    assert readable(log.encode(), texts, files) == []
    client_output = "\n".join(outputs)
    client_output += "".join(p.read_text(errors="replace") for p in field.home.rglob("*.log"))
    assert "DEBUG" in client_output  # verbose: the client's own log lines were there to scan
    assert readable(client_output.encode(), texts, files) == []

    # Request ids: the one the login was sent with names the app's record of that login and its
    # access line; a made one (``/healthz``) is the one the access log names.
    [login_line] = [line for line in log.splitlines() if "Office login by" in line]
    assert f"[req={login_id}]" in login_line
    assert '"POST /office/login" 302' in log and f"req={login_id}" in log.split(
        '"POST /office/login" 302', 1)[1].splitlines()[0]
    made = health.headers["X-Request-Id"]
    assert re.fullmatch(r"[0-9a-f]{32}", made)
    assert '"GET /healthz" 200' in log and any(
        f"req={made}" in line and "GET /healthz" in line for line in log.splitlines())
    # Every line the app logged names its request, or the job thread (and job) it came from
    # (the checks run there, after the request); so does every access line.
    app_lines = [line for line in log.splitlines() if APP_LINE.match(line)]
    assert len(app_lines) >= 6 and all("[req=" in line or "[worker=" in line
                                       for line in app_lines)
    assert any(re.search(r"\[worker=\S+:thread job=\d+\]: Job \d+ \(check_records\) done", line)
               for line in app_lines)
    access = [line for line in log.splitlines() if line.startswith('127.0.0.1 "')]
    assert len(access) > 4 * 14 and all(
        HEX_ID.search(line) or line.endswith(f"req={login_id}") for line in access)
