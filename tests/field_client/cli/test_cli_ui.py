"""``jemput-field ui`` as a command: it serves on 127.0.0.1, and a taken port is a plain error."""

from __future__ import annotations

import logging
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from field_client.cli.main import main

BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_ui_serves_the_app_on_loopback_and_logs_no_query_strings(home: Path) -> None:
    port = _free_port()
    process = subprocess.Popen(
        [str(BIN / "jemput-field"), "--home", str(home), "-v", "ui", "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                answer = requests.get(
                    f"http://127.0.0.1:{port}/daftar?nik=6109045708900001", timeout=2
                )
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, "the web app did not start"
                assert process.poll() is None, process.communicate()
                time.sleep(0.1)
        assert answer.status_code == 200 and "Daftarkan laptop" in answer.text
        assert answer.headers["Cache-Control"] == "no-store"
    finally:
        process.terminate()
        out, err = process.communicate(timeout=20)
    assert f"http://127.0.0.1:{port}/" in out
    assert "GET /daftar" in err  # -v logs requests by path ...
    assert "6109045708900001" not in err + out  # ... never their query string


def test_a_taken_port_is_a_plain_message(
    home: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with caplog.at_level(logging.WARNING):
            code = main(["--home", str(home), "ui", "--port", str(port)])
    assert code != 0
    assert "sudah dipakai" in capsys.readouterr().err


def test_a_port_out_of_range_is_refused(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--home", str(home), "ui", "--port", "70000"]) != 0
    assert "tidak sah" in capsys.readouterr().err
