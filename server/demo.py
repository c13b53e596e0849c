"""The main job in one command: a server, a field laptop, a day of offline recording, a sync.

``jemput-server demo`` initialises the instance, starts the server on 127.0.0.1, registers a
field device for a Nanga Mahap outreach team, records a batch of synthetic residents with the
network unplugged, syncs them (twice: the second run shows that nothing is stored twice), prints
what arrived, and keeps serving until Ctrl-C.
"""

from __future__ import annotations

import errno
import logging
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.serving import BaseWSGIServer, make_server

from field_client import FieldClient
from field_client.sync import SyncReport
from server import demo_office
from server.demo_data import NANGA_MAHAP, synthetic_biometrics, synthetic_residents
from server.services import devices, overview, setup

TEAM = "TIM JEMPUT BOLA NANGA MAHAP"
OPERATOR = "op.demo"
NEIGHBOURS = 20  # registered residents of the kecamatan this outreach did not reach
#: Position of the resident the team records a second time (a duplicate NIK for the office).
RECORDED_TWICE = 4
Echo = Callable[[str], None]


@dataclass(frozen=True)
class DemoResult:
    """What the demo did, for the summary and for tests."""

    url: str
    device_id: str
    recorded: int
    first_sync: SyncReport
    replay: SyncReport
    arrivals: overview.Arrivals
    office: demo_office.OfficeSummary


def run_demo(
    app: Flask,
    *,
    count: int,
    port: int,
    serve: bool,
    echo: Echo,
    stop: threading.Event | None = None,
) -> DemoResult:
    """Run the whole demo against ``app``; with ``serve`` keep serving until ``stop`` or Ctrl-C."""
    _quiet_logs()
    # The demo serves plain HTTP on loopback: a Secure-only session cookie would never come back.
    app.config["SESSION_COOKIE_SECURE"] = False
    with app.app_context():
        report = setup.initialize()
        code = devices.create_registration_code(TEAM, kecamatan_kode=NANGA_MAHAP)
    if report.admin_password:
        echo(f"Admin kantor dibuat: admin / {report.admin_password} (hanya tampil sekali)")
    server = _start_server(app, port)
    url = f"http://127.0.0.1:{server.server_port}"
    try:
        result = _field_day(app, url, code, count, Path(app.instance_path) / "demo-field", echo)
        _print_summary(result, echo)
        if serve:
            echo(f"Server berjalan di {url}  (Ctrl-C untuk berhenti)")
            _wait(stop or threading.Event())
        else:
            echo(f"Server tadi berjalan di {url}; dihentikan (--no-serve).")
    finally:
        server.shutdown()
    return result


def _field_day(app: Flask, url: str, code: str, count: int, home: Path, echo: Echo) -> DemoResult:
    shutil.rmtree(home, ignore_errors=True)  # every demo is a fresh laptop
    with FieldClient(home) as client:
        registration = client.register(url, code, name="Laptop Nanga Mahap 1")
        echo(f"Perangkat terdaftar: {registration.device_id} ({registration.team})")
        people = list(synthetic_residents(count + NEIGHBOURS, kecamatan=NANGA_MAHAP))
        residents = _office_registry(app, people[:count], people[count:], home.parent, echo)
        echo(f"Merekam {count} penduduk Kecamatan Nanga Mahap tanpa jaringan ...")
        scans = home.parent / "demo-scans"
        excused = 0
        twice = [people[RECORDED_TWICE]] if count > RECORDED_TWICE else []
        for index, payload in enumerate(people[:count] + twice):
            recording = synthetic_biometrics(scans, index)
            client.enroll(payload, OPERATOR, recording.files, recording.exceptions)
            excused += bool(recording.exceptions)
        shutil.rmtree(scans, ignore_errors=True)  # the client keeps its own copies
        if excused:
            echo(f"  {excused} penduduk dengan jari/iris yang tidak dapat direkam (diamputasi, "
                 "cedera): dicatat sebagai pengecualian beralasan, bukan dibiarkan kosong.")
        echo("Jaringan tersedia: sinkronisasi ...")
        first = client.sync()
        replay = client.sync()
    with app.app_context():
        arrived = overview.arrivals(registration.device_id)
        office = demo_office.summary(residents)
    return DemoResult(url, registration.device_id, count + len(twice), first, replay, arrived,
                      office)


def _office_registry(app: Flask, recorded: list[dict[str, Any]],
                     neighbours: list[dict[str, Any]], folder: Path, echo: Echo) -> int:
    """Give the office a population registry (a SIAK export) to check the records against."""
    path = folder / "demo-registry.csv"
    demo_office.write_registry(path, recorded, neighbours)
    with app.app_context():
        residents = demo_office.import_registry(path)
    path.unlink()
    echo(f"Kantor mengimpor data penduduk (SIAK): {residents} penduduk.")
    return residents


def _print_summary(result: DemoResult, echo: Echo) -> None:
    first, replay = result.first_sync, result.replay
    echo(f"Sinkronisasi pertama: {first.accepted} diterima, {first.duplicate} duplikat, "
         f"{first.rejected} ditolak, {first.remaining} tersisa.")
    echo(f"Berkas biometrik diunggah (tus, dapat dilanjutkan): {first.files_uploaded} berkas, "
         f"{first.bytes_uploaded / 1_000_000:.1f} MB, masing-masing diperiksa SHA-256-nya.")
    queue = "antrean kosong" if replay.remaining == 0 else f"{replay.remaining} masih di antrean"
    echo(f"Sinkronisasi ulang: {replay.pushed} rekaman dikirim lagi; {queue}.")
    echo(f"Tiba di server: {result.arrivals.total} rekaman dari perangkat ini")
    for state, number in sorted(result.arrivals.by_state.items()):
        echo(f"  status {state}: {number}")
    for kode, nama, number in result.arrivals.by_desa:
        echo(f"  {kode} {nama}: {number}")
    if first.waiting_for_files:
        echo(f"  {first.waiting_for_files} rekaman menunggu berkas biometrik (unggah tus: "
             "tahap berikutnya).")
    cases = result.office.open_cases
    echo(f"Pemeriksaan kantor: {sum(cases.values())} kasus terbuka untuk ditinjau")
    for kind, number in sorted(cases.items()):
        echo(f"  {KIND_LABELS.get(kind, kind)}: {number}")
    echo(f"Kantor (antrean tinjauan, dasbor): {result.url}/office/  (masuk sebagai admin)")


KIND_LABELS = {
    "registry_mismatch": "data berbeda dengan SIAK",
    "not_in_registry": "NIK tidak ada di SIAK",
    "duplicate_nik": "NIK direkam dua kali",
}


def _quiet_logs() -> None:
    """Keep the demo's output to the story: no per-request or migration log lines."""
    for name in ("werkzeug", "alembic", "field_client", "server"):
        logging.getLogger(name).setLevel(logging.WARNING)


def _start_server(app: Flask, port: int) -> BaseWSGIServer:
    """Serve ``app`` on 127.0.0.1 in a background thread; take a free port if ``port`` is busy."""
    try:
        server = make_server("127.0.0.1", port, app, threaded=True)
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise
        server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, name="jemput-demo", daemon=True).start()
    return server


def _wait(stop: threading.Event) -> None:
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
