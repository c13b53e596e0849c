"""The main job in one command: a server, a field laptop, offline recording, sync, summary."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import requests
from flask import Flask
from flask.testing import FlaskCliRunner

from field_client import capture
from server.demo import run_demo
from server.demo_data import synthetic_biometrics
from server.services import overview
from shared import vocab
from shared.biometrics import FILE_RULES, missing_roles
from tests.factories import payload


def test_demo_records_offline_syncs_and_reports(app: Flask) -> None:
    lines: list[str] = []
    result = run_demo(app, count=6, port=0, serve=False, echo=lines.append)
    assert result.first_sync.accepted == 7  # six residents, one of them recorded twice
    assert result.first_sync.rejected == 0
    assert result.first_sync.remaining == 0
    assert result.replay.pushed == 0  # nothing left: nothing is sent or stored twice
    assert result.arrivals.total == 7
    assert sum(count for _, _, count in result.arrivals.by_desa) == 7
    assert all(kode.startswith("61.09.04.") for kode, _, _ in result.arrivals.by_desa)
    text = "\n".join(lines)
    assert result.url.startswith("http://127.0.0.1:")
    assert result.url in text
    assert "Tiba di server: 7 rekaman" in text
    # Every file went up in the first sync, so every record is complete on the server.
    assert result.first_sync.files_uploaded > 7 * 12  # 14 roles, a few excused
    assert result.first_sync.files_waiting == 0 and result.first_sync.files_failed == []
    assert f"{result.first_sync.files_uploaded} berkas" in text
    # Complete, then checked against the demo registry: one resident registered under another
    # birth date, one not registered, one recorded twice (both records held for review); the one
    # spelled with other case and spacing still matches.
    assert result.arrivals.by_state == {"needs_review": 4, "verified": 3}
    assert result.office.open_cases == {
        "registry_mismatch": 1, "not_in_registry": 1, "duplicate_nik": 1}
    assert result.office.residents == 6 - 1 + 20
    assert f"{result.url}/office/" in text
    with app.app_context():
        assert overview.arrivals(result.device_id).total == 7


def test_demo_keeps_serving_until_stopped(app: Flask) -> None:
    stop = threading.Event()
    lines: list[str] = []
    worker = threading.Thread(
        target=run_demo,
        kwargs={"app": app, "count": 2, "port": 0, "serve": True, "echo": lines.append,
                "stop": stop},
    )
    worker.start()
    deadline = time.monotonic() + 60
    while not any("Ctrl-C" in line for line in lines) and time.monotonic() < deadline:
        time.sleep(0.05)
    url = next(line.split()[3] for line in lines if "Ctrl-C" in line)
    assert requests.get(f"{url}/healthz", timeout=5).json()["status"] == "ok"
    stop.set()
    worker.join(timeout=10)
    assert not worker.is_alive()


def test_demo_command_no_serve(runner: FlaskCliRunner) -> None:
    outcome = runner.invoke(args=["demo", "--no-serve", "--count", "3", "--port", "0"])
    assert outcome.exit_code == 0, outcome.output
    assert "Sinkronisasi pertama: 3 diterima" in outcome.output
    assert "--no-serve" in outcome.output


def test_demo_recordings_are_complete_realistic_and_accepted_by_the_client(
    tmp_path: Path,
) -> None:
    suffix_type = {".jpg": "image/jpeg", ".png": "image/png", ".jp2": "image/jp2",
                   ".wsq": "image/x-wsq"}
    people = [synthetic_biometrics(tmp_path, index) for index in range(40)]
    excused = [p.exceptions for p in people if p.exceptions]
    assert 2 <= len(excused) <= 6  # a few people, not most
    assert all(set(e) <= set(vocab.EXCEPTABLE_ROLES) for e in excused)
    for index, person in enumerate(people):
        assert missing_roles(person.files, person.exceptions) == []
        assert not set(person.files) & set(person.exceptions)
        capture.prepare(payload(), "op.demo", person.files, person.exceptions)  # no error
        for role, path in person.files.items():
            assert suffix_type[path.suffix] in FILE_RULES[role].media_types
        sizes = {role: path.stat().st_size for role, path in person.files.items()}
        assert 28_000 <= sizes["photo"] <= 32_000, index
        assert 8_000 <= sizes["signature"] <= 12_000, index
        assert all(18_000 <= sizes[r] <= 22_000 for r in sizes if r.startswith("finger")), index
        assert all(28_000 <= sizes[r] <= 32_000 for r in sizes if r.startswith("iris")), index
