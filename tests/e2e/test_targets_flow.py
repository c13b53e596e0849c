"""Outreach end to end: a real server process, the real ``jemput-field`` CLI.

The office plans a visit to a desa for the team's laptop; one sync brings the target list (the
desa's unrecorded wajib-KTP residents, nothing more); the operator finds a resident offline,
records them from the target list, syncs; the visit's progress moves on the server; the office
closes the visit, and the next sync deletes the list from the laptop's database file.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests

from field_client.client import FieldClient
from field_client.config import load_settings
from shared import datakey
from shared.protocol import PROTOCOL_HEADER, PROTOCOL_VERSION
from shared.sealing import unb64
from tests.support.field import biometric_files
from tests.support.processes import TEST_ENV, FieldCLI, ServerProcess, register

pytestmark = pytest.mark.e2e
DESA = "61.09.04.2006"
MARIA = "6109045708900001"
CARD = [
    "--tempat-lahir",
    "SEKADAU",
    "--golongan-darah",
    "O",
    "--agama",
    "KATHOLIK",
    "--status-perkawinan",
    "KAWIN",
    "--pekerjaan",
    "PETANI/PEKEBUN",
    "--kewarganegaraan",
    "WNI",
]


@contextmanager
def office(server: ServerProcess, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """An app context on the server's database, as the office's own processes use it."""
    from server import create_app
    from server.core.extensions import dispose_engines

    monkeypatch.setenv("JEMPUT_INSTANCE_PATH", str(server.instance))
    for name in ("JEMPUT_DATABASE_URL", "JEMPUT_BLOB_DIR", "JEMPUT_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    app = create_app()
    try:
        with app.app_context():
            yield
    finally:
        dispose_engines(app)


def residents(today: dt.date) -> list[dict[str, Any]]:
    """Three unrecorded adults of DESA, one already recorded (SIAK), one child, one elsewhere."""
    base = {
        "tempat_lahir": "SEKADAU",
        "alamat": "DUSUN TEMBAGA",
        "rt": "001",
        "rw": "002",
        "desa_kode": DESA,
        "agama": "KATHOLIK",
        "status_perkawinan": "KAWIN",
        "pekerjaan": "PETANI/PEKEBUN",
        "kewarganegaraan": "WNI",
        "recorded": False,
    }
    child = today - dt.timedelta(days=3650)
    return [
        base
        | {
            "nik": MARIA,
            "nama": "MARIA GORETTI",
            "tanggal_lahir": dt.date(1990, 8, 17),
            "jenis_kelamin": "PEREMPUAN",
        },
        base
        | {
            "nik": "6109041203850002",
            "nama": "YOHANES BOSCO",
            "tanggal_lahir": dt.date(1985, 3, 12),
            "jenis_kelamin": "LAKI-LAKI",
        },
        base
        | {
            "nik": "6109045501000003",
            "nama": "JOSÉ DA COSTA",
            "tanggal_lahir": dt.date(2000, 1, 15),
            "jenis_kelamin": "PEREMPUAN",
        },
        base
        | {
            "nik": "6109040101800004",
            "nama": "SUDAH REKAM",
            "recorded": True,
            "tanggal_lahir": dt.date(1980, 1, 1),
            "jenis_kelamin": "LAKI-LAKI",
        },
        base
        | {
            "nik": f"610904{child:%d%m%y}0005",
            "nama": "ANAK KECIL",
            "tanggal_lahir": child,
            "jenis_kelamin": "LAKI-LAKI",
            "status_perkawinan": "BELUM KAWIN",
        },
        base
        | {
            "nik": "6109011203850006",
            "nama": "DESA LAIN",
            "desa_kode": "61.09.01.2001",
            "tanggal_lahir": dt.date(1985, 3, 12),
            "jenis_kelamin": "LAKI-LAKI",
        },
    ]


def plan_visit(
    server: ServerProcess, monkeypatch: pytest.MonkeyPatch, device_id: str, extra: int = 0
) -> str:
    """As the office: fill the registry (``extra`` more unrecorded adults in DESA) and plan a
    visit to DESA today for the device."""
    from server.accounts.actor import Actor
    from server.core.extensions import db
    from server.core.models import Resident
    from server.core.timeutil import utcnow
    from server.outreach import visits as outreach

    with office(server, monkeypatch):
        today = outreach.office_today()
        rows = residents(today)
        rows += [rows[1] | {"nik": f"6109041203850{100 + i}", "nama": f"WARGA {i}"}
                 for i in range(extra)]  # fmt: skip
        db.session.add_all(Resident(**row, updated_at=utcnow()) for row in rows)
        db.session.commit()
        visit = outreach.create_visit(
            DESA, today, "TIM-1", device_id, actor=Actor("spv", "supervisor")
        )
        assert visit.target_count == 3 + extra
        return visit.id


def progress(server: ServerProcess, monkeypatch: pytest.MonkeyPatch, visit_id: str) -> Any:
    from server.outreach import report

    with office(server, monkeypatch):
        return report.visit_progress(visit_id)


def close(server: ServerProcess, monkeypatch: pytest.MonkeyPatch, visit_id: str) -> None:
    from server.accounts.actor import Actor
    from server.outreach import visits as outreach

    with office(server, monkeypatch):
        outreach.close_visit(visit_id, actor=Actor("spv", "supervisor"))


def outbox_rows(field: FieldCLI, sql: str) -> list[tuple[Any, ...]]:
    """Rows of the laptop's database file, read as another process would."""
    with sqlite3.connect(field.home / "outbox.sqlite3") as conn:
        return conn.execute(sql).fetchall()


def device_headers(token: str) -> dict[str, str]:
    """What the field client sends with every request: its token and the protocol version."""
    return {"Authorization": f"Bearer {token}", PROTOCOL_HEADER: str(PROTOCOL_VERSION)}


def data_key(field: FieldCLI) -> bytes:
    """The device's data key, as the operator's PIN unwraps it on the laptop."""
    assert field.operator and field.pin
    with FieldClient(settings=load_settings(field.home, environ=TEST_ENV)) as device:
        return device.login(field.operator, field.pin).data_key


def run_json(field: FieldCLI, *args: str) -> Any:
    done = field.run(*args, "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout)


def test_a_visit_reaches_the_laptop_is_worked_offline_and_leaves_it(
    server: ServerProcess, field: FieldCLI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    register(field, server, server.url)
    device_id = run_json(field, "status")["device_id"]
    visit_id = plan_visit(server, monkeypatch, device_id)

    done = field.run("sync")
    assert done.returncode == 0, done.stdout + done.stderr
    listed = run_json(field, "targets")
    [visit] = listed["visits"]
    assert (visit["id"], visit["desa_kode"], visit["targets"], visit["done"]) == (
        visit_id,
        DESA,
        3,
        0,
    )
    assert [t["nama"] for t in listed["targets"]] == [
        "JOSÉ DA COSTA",
        "MARIA GORETTI",
        "YOHANES BOSCO",
    ]
    assert set(listed["targets"][0]) == {
        "visit_id",
        "nik",
        "nama",
        "tanggal_lahir",
        "jenis_kelamin",
        "alamat",
        "rt",
        "rw",
        "done",
    }  # nothing more than the list needs

    # Offline from here on: the server is stopped while the team works.
    server.stop()
    found = run_json(field, "targets", "--search", "jose")["targets"]
    assert [t["nik"] for t in found] == ["6109045501000003"]
    assert run_json(field, "targets", "--search", "%")["targets"] == []
    files = biometric_files(tmp_path / "scans")
    options = [arg for role, path in files.items() for arg in ("--file", f"{role}={path}")]
    done = field.run("enroll", "--target", MARIA, *CARD, "--operator", "op.e2e", *options)
    assert done.returncode == 0, done.stdout + done.stderr
    shown = field.run("targets")
    assert "1 dari 3 sasaran sudah direkam" in shown.stdout
    # ``status`` asks for no PIN, so it cannot open the list: the visit and its size only.
    status = field.run("status").stdout
    assert f"({DESA})" in status and "3 sasaran" in status
    assert "sudah direkam" not in status and MARIA not in status and "MARIA" not in status

    server.start()
    done = field.run("sync")
    assert done.returncode == 0, done.stdout + done.stderr
    moved = progress(server, monkeypatch, visit_id)
    assert (moved.visit.target_count, moved.done, moved.records) == (3, 1, 1)

    close(server, monkeypatch, visit_id)
    done = field.run("sync")
    assert done.returncode == 0, done.stdout + done.stderr
    assert outbox_rows(field, "SELECT count(*) FROM outreach_visit") == [(0,)]
    assert run_json(field, "targets") == {"visits": [], "targets": []}
    # The record of the target stays, known by its keyed hash only (the NIK under the PIN).
    assert outbox_rows(field, "SELECT state, nik_mac FROM record") == [
        ("complete", datakey.nik_mac(data_key(field), MARIA))]
    # The list's box is gone from the database file, and no NIK of it was ever there in clear.
    raw = b"".join(path.read_bytes() for path in field.home.glob("outbox.sqlite3*"))
    for nik in (MARIA, "6109041203850002", "6109045501000003"):
        assert nik.encode() not in raw


def test_the_list_comes_gzipped_and_only_to_its_device(
    server: ServerProcess, field: FieldCLI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    register(field, server, server.url)
    device_id = run_json(field, "status")["device_id"]
    # Over 1 KB even as a gzipped box (43 names are not): worth HTTP gzip, which still saves
    # base64's quarter.
    visit_id = plan_visit(server, monkeypatch, device_id, extra=200)
    [(token,)] = outbox_rows(field, "SELECT value FROM meta WHERE key = 'token'")
    url = f"{server.url}/api/v1/outreach/visits/{visit_id}/targets"
    answer = requests.get(url, headers=device_headers(token), timeout=30)
    assert answer.status_code == 200, answer.text
    assert answer.headers["Content-Encoding"] == "gzip"  # what requests asks for by default
    assert answer.headers["Cache-Control"] == "no-store"
    # The list travels under the device's data key: no name, no NIK on the wire ...
    assert "WARGA" not in answer.text and MARIA not in answer.text
    # ... and the operator's PIN opens it (the data key it unwraps on the laptop).
    listed = datakey.decrypt_json(data_key(field), unb64(answer.json()["sealed"]))
    assert len(listed["targets"]) == 203
    assert MARIA in {target["nik"] for target in listed["targets"]}
    # An old client (no protocol header) is told to update, and gets no list.
    old = requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert old.status_code == 426 and old.json()["code"] == "client_outdated"
    # A second laptop, not assigned: refused, and its own sync goes on without the list.
    other = FieldCLI(tmp_path / "other-home")
    register(other, server, server.url)
    [(other_token,)] = outbox_rows(other, "SELECT value FROM meta WHERE key = 'token'")
    refused = requests.get(url, headers=device_headers(other_token), timeout=30)
    assert refused.status_code == 403 and refused.json()["code"] == "not_assigned"
    assert other.run("sync").returncode == 0
    assert run_json(other, "targets") == {"visits": [], "targets": []}
