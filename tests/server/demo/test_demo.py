"""The main job in one command: a server, a field laptop, offline recording, sync, summary."""

from __future__ import annotations

import re
import socket
import threading
import time
from pathlib import Path

import pytest
import requests
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import func, select

from field_client.capture import record as capture
from server.accounts import devices, setup, users
from server.accounts.actor import Actor
from server.core.errors import DemoRefused
from server.core.extensions import db
from server.core.models import Device, OutreachVisit, Resident
from server.coverage import figures
from server.demo import population
from server.demo.residents import synthetic_biometrics
from server.demo.story import DEMO_MARKER, run_demo
from server.outreach import report
from server.outreach import visits as outreach
from server.sync import overview
from shared import vocab
from shared.biometrics import FILE_RULES, missing_roles
from shared.display import format_number
from tests.support.payloads import payload
from tests.support.records import add_residents

SCALE = 0.02  # 4,500 residents: the whole story in a few seconds


def test_demo_plans_an_outreach_records_offline_syncs_and_reports(app: Flask) -> None:
    lines: list[str] = []
    result = run_demo(app, count=6, port=0, scale=SCALE, serve=False, echo=lines.append)
    text = "\n".join(lines)
    # Before any outreach the synthetic registry reads like Sekadau, scaled.
    before = result.coverage_before
    assert (before.wajib, before.recorded) == (round(148_293 * SCALE), round(127_901 * SCALE))
    assert before.recorded_jemput == 0
    assert f"{format_number(before.wajib)} wajib KTP" in text
    # The visit went to the Nanga Mahap desa with most residents not recorded; its target
    # list reached the laptop before the team left.
    visit = result.visit.visit
    assert visit.desa_kode.startswith("61.09.04.") and visit.target_count >= 6
    assert result.targets_on_device == visit.target_count
    with app.app_context():
        unrecorded = figures.desa_unrecorded(visit.visit_date, "61.09.04")
    # The other desa are as they were: none had more left than the visited one had.
    assert unrecorded.pop(visit.desa_kode) == visit.target_count - 5
    assert max(unrecorded.values()) <= visit.target_count
    assert result.first_sync.accepted == 7  # six residents, one of them recorded twice
    assert result.first_sync.rejected == 0
    assert result.first_sync.remaining == 0
    assert result.replay.pushed == 0  # nothing left: nothing is sent or stored twice
    assert result.arrivals.total == 7
    assert sum(count for _, _, count in result.arrivals.by_desa) == 7
    assert {kode for kode, _, _ in result.arrivals.by_desa} == {visit.desa_kode}
    assert result.url.startswith("http://127.0.0.1:")
    assert result.url in text
    assert "Tiba di server: 7 rekaman" in text
    # Every file went up in the first sync, so every record is complete on the server.
    assert result.first_sync.files_uploaded > 7 * 12  # 14 roles, a few excused
    assert result.first_sync.files_waiting == 0 and result.first_sync.files_failed == []
    assert f"{result.first_sync.files_uploaded} berkas" in text
    # Checked against the registry: one resident recorded with a corrected birth date, one
    # newcomer not registered, one recorded twice (both records held for review); the one
    # typed in lower case with extra spaces still matches.
    assert result.arrivals.by_state == {"needs_review": 4, "verified": 3}
    assert result.office.open_cases == {
        "registry_mismatch": 1, "not_in_registry": 1, "duplicate_nik": 1}
    # Coverage and the visit moved: five targets recorded (the newcomer is not a target).
    after = result.coverage_after
    assert after.recorded == before.recorded + 5
    assert after.recorded_jemput == 5
    assert result.visit.done == 5
    assert f"5 dari {visit.target_count} sasaran" in text
    # Closing the visit took the list off the laptop.
    assert result.targets_after_close == 0
    assert f"{result.url}/office/coverage" in text
    # The cards: about 2,000 blanks (scaled), a longer queue, printed until the stock is gone,
    # Sukets for the rest, a new allocation prints the Suket holders and supersedes their Sukets.
    cards = result.cards
    assert cards is not None
    assert cards.received == round(2000 * SCALE) == cards.printed_first
    assert cards.waiting_before > cards.received
    assert cards.sukets == cards.waiting_before - cards.printed_first > 0
    assert cards.printed_second == cards.superseded == min(cards.sukets, cards.received_again)
    assert cards.stock_left == cards.received_again - cards.printed_second
    assert cards.suket_pdf is not None and cards.suket_pdf.read_bytes()[:5] == b"%PDF-"
    assert cards.verify_path is not None
    check = app.test_client().get(cards.verify_path, headers={"Accept": "application/json"})
    assert check.status_code == 200 and check.json["status"] == "superseded"
    assert "Suket otomatis diganti KTP-el" in text
    with app.app_context():
        assert overview.arrivals(result.device_id).total == 7


def test_a_second_demo_on_the_same_instance_starts_from_the_same_figures(app: Flask) -> None:
    first = run_demo(app, count=2, port=0, scale=0.01, serve=False, echo=lambda _: None)
    second = run_demo(app, count=2, port=0, scale=0.01, serve=False, echo=lambda _: None)
    assert second.coverage_before == first.coverage_before
    assert second.coverage_before.recorded_jemput == 0
    with app.app_context():
        assert overview.arrivals(second.device_id).total == 2


def test_a_demo_stopped_half_way_is_started_afresh(app: Flask) -> None:
    with app.app_context():
        setup.initialize()
        (Path(app.instance_path) / DEMO_MARKER).touch()
        population.load(0.01, at=outreach.office_today())
        code = devices.create_registration_code("TIM", kecamatan_kode="61.09.04")
        device, _ = devices.register_device(code, "laptop-lama")
        desa = report.ranking(outreach.office_today(), "61.09.04")[0].desa_kode
        outreach.create_visit(desa, outreach.office_today(), "TIM", device.id,
                              actor=Actor("admin", "admin"))  # stopped here: no records
    result = run_demo(app, count=2, port=0, scale=0.01, serve=False, echo=lambda _: None)
    with app.app_context():
        visits = db.session.execute(select(OutreachVisit)).scalars().all()
        assert [v.id for v in visits] == [result.visit.visit.id]
        names = db.session.execute(select(Device.name)).scalars().all()
        assert "laptop-lama" not in names and len(names) == 2  # the field and office laptops


def test_the_demo_leaves_an_instance_with_other_data_alone(app: Flask) -> None:
    with app.app_context():
        setup.initialize()
    add_residents(app, {"payload": payload()})
    lines: list[str] = []
    with pytest.raises(DemoRefused, match="bukan dari demo"):
        run_demo(app, count=2, port=0, scale=0.01, serve=False, echo=lines.append)
    with app.app_context():
        assert db.session.execute(select(func.count()).select_from(Resident)).scalar_one() == 1


def test_demo_keeps_serving_until_stopped(app: Flask) -> None:
    stop = threading.Event()
    lines: list[str] = []
    worker = threading.Thread(
        target=run_demo,
        kwargs={"app": app, "count": 2, "port": 0, "scale": 0.01, "serve": True,
                "echo": lines.append, "stop": stop},
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
    outcome = runner.invoke(args=["demo", "--no-serve", "--count", "3", "--port", "0",
                                  "--scale", "0.01"])
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


def test_the_demo_runs_twice_on_a_busy_port_and_ends_with_working_office_credentials(
    app: Flask, runner: FlaskCliRunner
) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        for _ in range(2):
            outcome = runner.invoke(args=["demo", "--no-serve", "--count", "2", "--port",
                                          str(port), "--scale", "0.01"])
            assert outcome.exit_code == 0, outcome.output
            served = re.search(r"Server tadi berjalan di http://127\.0\.0\.1:(\d+)", outcome.output)
            assert served and int(served.group(1)) != port
            login = re.search(r"sebagai admin, kata sandi (\S+) \(baru di setiap demo\)",
                              outcome.output.splitlines()[-2])
            assert login, outcome.output
            with app.app_context():
                assert users.authenticate("admin", login.group(1)).role == "admin"
