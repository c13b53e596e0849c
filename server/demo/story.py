"""The main job in one command: the Sekadau situation, an outreach visit, offline recording, sync.

``jemput-server demo`` initialises the instance, loads a synthetic population registry of
Kabupaten Sekadau whose coverage reads as reported (148,293 wajib KTP, 127,901 recorded,
86.25 %), starts the server on 127.0.0.1, registers a field laptop for a Nanga Mahap outreach
team, plans a visit to the Nanga Mahap desa with the most residents not yet recorded, syncs its
target list to the laptop, records part of it with the network unplugged, syncs (twice: the
second run shows that nothing is stored twice), prints the coverage and the visit's progress
afterwards, closes the visit (the list leaves the laptop), and keeps serving until Ctrl-C.
"""

from __future__ import annotations

import dataclasses
import errno
import logging
import shutil
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask, current_app
from sqlalchemy import func, select
from werkzeug.serving import BaseWSGIServer, make_server

from field_client import FieldClient
from field_client.config import load_settings
from field_client.sync.report import SyncReport
from server.accounts import devices, operators, setup, users
from server.accounts.actor import Actor
from server.accounts.users import ADMIN_USERNAME
from server.core.errors import Conflict, DemoRefused
from server.core.extensions import db
from server.core.jobs import worker as job_worker
from server.core.models import Device, Enrollment, OutreachVisit, Resident
from server.coverage import figures as coverage
from server.coverage.figures import CoverageRow
from server.demo import cards as demo_cards
from server.demo import office as demo_office
from server.demo import population as demo_population
from server.demo.residents import NANGA_MAHAP, synthetic_biometrics, synthetic_residents
from server.outreach import report as outreach_report
from server.outreach import visits
from server.sync import overview
from shared.display import format_number, format_percent
from shared.labels import KIND_LABELS
from shared.pin import KDF_COST

TEAM = "TIM JEMPUT BOLA NANGA MAHAP"
OPERATOR = "op.demo"
FIELD_HOME = "demo-field"  # the demo laptop's folder inside the instance
PLANNER = Actor(ADMIN_USERNAME, "admin")
#: Positions (in recording order) of the residents whose record the office must look at:
#: one recorded with a corrected birth date, one who moved in and is not in the registry, one
#: typed in lower case with extra spaces (which must still match), one recorded twice.
OTHER_BIRTH_DATE, NOT_REGISTERED, SPELLED_DIFFERENTLY, RECORDED_TWICE = 1, 2, 3, 4
#: Marks an instance folder the demo filled; only such an instance is reset by a new demo run.
DEMO_MARKER = "demo-instance"
Echo = Callable[[str], None]


@dataclass(frozen=True)
class DemoResult:
    """What the demo did, for the summary and for tests."""

    url: str
    device_id: str
    recorded: int
    population: demo_population.PopulationSummary
    coverage_before: CoverageRow
    coverage_after: CoverageRow
    visit: outreach_report.VisitProgress
    targets_on_device: int
    targets_after_close: int
    first_sync: SyncReport
    replay: SyncReport
    arrivals: overview.Arrivals
    office: demo_office.OfficeSummary
    cards: demo_cards.CardStory | None = None
    #: The PIN of the demo's field operator (``op.demo``) for ``jemput-field ui``.
    operator_pin: str | None = None
    #: The office admin's password, new on every run (printed at the end, to log in with).
    admin_password: str | None = None


def run_demo(
    app: Flask,
    *,
    count: int,
    port: int,
    serve: bool,
    echo: Echo,
    scale: float = 1.0,
    stop: threading.Event | None = None,
) -> DemoResult:
    """Run the whole demo against ``app``; with ``serve`` keep serving until ``stop`` or Ctrl-C."""
    _quiet_logs()
    # The demo serves plain HTTP on loopback: a Secure-only session cookie would never come back.
    app.config["SESSION_COOKIE_SECURE"] = False
    with app.app_context():
        setup.initialize()
        _claim_instance(Path(app.instance_path))
        admin_password = users.reset_password(ADMIN_USERNAME)
        echo(f"Membuat populasi sintetis Kabupaten Sekadau (skala {scale:g}) ...")
        population = demo_population.load(scale, at=visits.office_today(), replace=True)
        code = devices.create_registration_code(TEAM, kecamatan_kode=NANGA_MAHAP)
        pin = _demo_operator()
    echo(f"  {format_number(population.residents)} penduduk di {population.desa} desa "
         f"({population.seconds:.1f} s).")
    server = _start_server(app, port)
    url = f"http://127.0.0.1:{server.port}"
    try:
        result = _outreach(app, url, code, pin, count, population, echo)
        _print_summary(result, echo)
        echo("Blanko, cetak KTP-el dan Suket:")
        with app.app_context():
            cards = demo_cards.run(scale, Path(app.instance_path), url, echo)
        result = dataclasses.replace(result, cards=cards, operator_pin=pin,
                                     admin_password=admin_password)
        echo(f"Kantor: {url}/office/blanko  {url}/office/print  {url}/office/suket")
        echo(f"Operator lapangan: {OPERATOR} / PIN {pin} (hanya tampil sekali). Coba aplikasi "
             f"laptop: jemput-field --home {Path(app.instance_path) / FIELD_HOME} ui")
        echo(f"Masuk kantor di {url}/office/ sebagai {ADMIN_USERNAME}, kata sandi "
             f"{admin_password} (baru di setiap demo).")
        if serve:
            echo(f"Server berjalan di {url}  (Ctrl-C untuk berhenti)")
            _wait(stop or threading.Event())
        else:
            echo(f"Server tadi berjalan di {url}; dihentikan (--no-serve).")
    finally:
        server.shutdown()
    return result


def _demo_operator() -> str:
    """Create the demo team's operator (or give it a new PIN, left by a run stopped half-way)."""
    try:
        return operators.create_operator(OPERATOR, TEAM, "Operator Demo")
    except Conflict:
        operators.set_active(OPERATOR, True)
        return operators.reset_pin(OPERATOR)


def _claim_instance(instance: Path) -> None:
    """Refuse an instance with someone's data; empty one an earlier demo run filled.

    The demo's figures (86.25 % before any outreach) only read right on a fresh registry, so a
    demo instance is emptied of everything an earlier run left (also one stopped half-way:
    a device, a planned visit, no records yet); any other instance is left alone.
    """
    marker = instance / DEMO_MARKER
    held = {name: db.session.execute(select(func.count()).select_from(model)).scalar_one()
            for name, model in (("rekaman", Enrollment), ("penduduk", Resident),
                                ("perangkat", Device), ("kunjungan", OutreachVisit))}
    db.session.commit()
    if any(held.values()) and not marker.exists():
        listed = ", ".join(f"{count} {name}" for name, count in held.items())
        raise DemoRefused(
            f"Folder instance {instance} sudah berisi data ({listed}) yang bukan dari demo; "
            "demo tidak mengubahnya. Jalankan demo dengan JEMPUT_INSTANCE_PATH ke folder baru.")
    if held["rekaman"] or held["perangkat"] or held["kunjungan"]:
        _reset(instance)
    marker.touch()


def _reset(instance: Path) -> None:
    """Empty a demo instance: drop every table, migrate afresh, forget the stored files."""
    db.drop_all()
    db.session.execute(db.text("DROP TABLE IF EXISTS alembic_version"))
    db.session.commit()
    shutil.rmtree(current_app.config["JEMPUT_BLOB_DIR"], ignore_errors=True)
    setup.initialize()
    (instance / DEMO_MARKER).touch()


def _outreach(app: Flask, url: str, code: str, pin: str, count: int,
              population: demo_population.PopulationSummary, echo: Echo) -> DemoResult:
    home = Path(app.instance_path) / FIELD_HOME
    shutil.rmtree(home, ignore_errors=True)  # every demo is a fresh laptop
    with app.app_context():
        today = visits.office_today()
        before = coverage.report(today)
    _print_coverage("Cakupan sebelum penjangkauan", before, echo, per_kecamatan=True)
    # The demo's laptop accepts the PIN-key cost its server uses (a test server's is lowered).
    settings = dataclasses.replace(load_settings(home),
                                   allow_test_kdf=app.config["PIN_KDF_COST"] != KDF_COST)
    with FieldClient(settings=settings) as client:
        registration = client.register(url, code, name="Laptop Nanga Mahap 1")
        echo(f"Perangkat terdaftar: {registration.device_id} ({registration.team}); sidik "
             f"jari kunci kantor {registration.office_key_fingerprint}.")
        # The operator's PIN unwraps the laptop's data key: what is saved is sealed to the
        # office key, the target list and the names are readable only with that key.
        data_key = client.login(OPERATOR, pin).data_key
        with app.app_context():
            best = outreach_report.ranking(today, NANGA_MAHAP)[0]
            visit = visits.create_visit(best.desa_kode, today, TEAM, registration.device_id,
                                          actor=PLANNER)
        echo(f"Kunjungan direncanakan: Desa {visit.desa_nama} (Kec. {visit.kecamatan_nama}), "
             f"{visit.visit_date:%d-%m-%Y}: {format_number(visit.target_count)} penduduk wajib "
             "KTP belum merekam, peringkat pertama di Nanga Mahap.")
        ready = client.sync()
        echo(f"Sebelum berangkat: daftar sasaran tiba di laptop ({ready.targets_received} "
             "penduduk: NIK, nama, tanggal lahir, jenis kelamin, alamat; tidak lebih), "
             "terenkripsi dengan kunci data perangkat.")
        targets = client.targets(visit_id=visit.id, data_key=data_key)
        recorded = _record_offline(app, client, [t["nik"] for t in targets[:count]],
                                   visit.desa_kode, home.parent, data_key, echo)
        done = next(v for v in client.visits(data_key) if v["id"] == visit.id)["done"]
        echo(f"  Di laptop: {done} dari {visit.target_count} sasaran sudah direkam.")
        echo("Jaringan tersedia: sinkronisasi ...")
        first = client.sync()
        replay = client.sync()
        with app.app_context():
            job_worker.settle(app)  # the checks the sync queued, before the office's figures
            after = coverage.report(today)
            progress = outreach_report.visit_progress(visit.id)
            arrived = overview.arrivals(registration.device_id)
            office = demo_office.summary(population.residents)
            visits.close_visit(visit.id, actor=PLANNER)
        client.sync()
        left = len(client.targets(data_key=data_key))  # every list on the laptop
    _print_coverage("Cakupan sesudah sinkronisasi", after, echo, per_kecamatan=False)
    return DemoResult(url, registration.device_id, recorded, population, before.rows[0],
                      after.rows[0], progress, len(targets), left, first, replay, arrived,
                      office)


def _record_offline(app: Flask, client: FieldClient, niks: list[str], desa_kode: str,
                    folder: Path, data_key: bytes, echo: Echo) -> int:
    """Record the residents ``niks`` from the target list (and a newcomer); return how many."""
    with app.app_context():
        registry = {r.nik: r for r in db.session.execute(
            select(Resident).where(Resident.nik.in_(niks))).scalars()}
        newcomer = _newcomer(desa_kode)
        db.session.commit()
    echo(f"Merekam {len(niks)} penduduk di Desa itu tanpa jaringan ...")
    people: list[dict[str, Any]] = []
    for index, nik in enumerate(niks):
        if index == NOT_REGISTERED:
            people.append(newcomer)
            continue
        payload = {**_asked(registry[nik]), **client.target_prefill(nik, data_key)}
        if index == OTHER_BIRTH_DATE:  # the resident shows a corrected birth certificate
            born = payload["tanggal_lahir"]
            payload["tanggal_lahir"] = f"{int(born[:4]) + 1}{born[4:]}"
            payload["tanggal_lahir"] = payload["tanggal_lahir"].replace("-02-29", "-02-28")
        if index == SPELLED_DIFFERENTLY:
            payload["nama"] = "  " + payload["nama"].lower().replace(" ", "  ") + " "
        people.append(payload)
    twice = [people[RECORDED_TWICE]] if len(people) > RECORDED_TWICE else []
    scans, excused = folder / "demo-scans", 0
    for index, payload in enumerate(people + twice):
        recording = synthetic_biometrics(scans, index)
        client.enroll(payload, OPERATOR, recording.files, recording.exceptions,
                      data_key=data_key)
        excused += bool(recording.exceptions)
    shutil.rmtree(scans, ignore_errors=True)  # the client keeps its own, sealed, copies
    if excused:
        echo(f"  {excused} penduduk dengan jari/iris yang tidak dapat direkam (diamputasi, "
             "cedera): dicatat sebagai pengecualian beralasan, bukan dibiarkan kosong.")
    if twice:
        echo("  Satu penduduk terekam dua kali (kantor akan melihatnya sebagai NIK ganda).")
    return len(people) + len(twice)


def _asked(resident: Resident) -> dict[str, Any]:
    """What the operator asks the resident for beyond the target list (the card's other fields)."""
    return {
        "tempat_lahir": resident.tempat_lahir or "SEKADAU",
        "golongan_darah": resident.golongan_darah or "TIDAK TAHU",
        "agama": resident.agama or "KATHOLIK",
        "status_perkawinan": resident.status_perkawinan or "BELUM KAWIN",
        "pekerjaan": resident.pekerjaan or "PETANI/PEKEBUN",
        "kewarganegaraan": resident.kewarganegaraan or "WNI",
    }


def _newcomer(desa_kode: str) -> dict[str, Any]:
    """A resident who moved into the desa and is not in the registry (a NIK it does not hold)."""
    for seed in range(100):
        person = next(synthetic_residents(1, kecamatan=NANGA_MAHAP, seed=1000 + seed))
        if db.session.get(Resident, person["nik"]) is None:
            return {**person, "desa_kode": desa_kode}
    raise AssertionError("no free NIK for the newcomer")


def _print_coverage(title: str, data: coverage.CoverageReport, echo: Echo, *,
                    per_kecamatan: bool) -> None:
    top = data.rows[0]
    echo(f"{title} ({data.at:%d-%m-%Y}), {top.nama}: {format_number(top.wajib)} wajib KTP, "
         f"{format_number(top.recorded)} sudah merekam ({format_percent(top.percent)} %), "
         f"{format_number(top.not_recorded)} belum.")
    if top.recorded_jemput:
        echo(f"  lewat Jemput: {format_number(top.recorded_jemput)} rekaman")
    if per_kecamatan:
        for row in sorted(data.kecamatan, key=lambda r: r.percent or 0):
            echo(f"  {row.kode} {row.nama:<16} {format_percent(row.percent):>6} %  "
                 f"({format_number(row.not_recorded)} belum merekam)")


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
    visit = result.visit
    echo(f"Kemajuan kunjungan Desa {visit.visit.desa_nama}: {visit.done} dari "
         f"{visit.visit.target_count} sasaran sudah direkam.")
    echo(f"Kunjungan ditutup: daftar sasaran dihapus dari laptop ({result.targets_after_close} "
         "tersisa).")
    cases = result.office.open_cases
    echo(f"Pemeriksaan kantor: {sum(cases.values())} kasus terbuka untuk ditinjau")
    for kind, number in sorted(cases.items()):
        echo(f"  {KIND_LABELS.get(kind, kind)}: {number}")
    echo(f"Kantor (masuk sebagai admin): {result.url}/office/  cakupan: {result.url}"
         "/office/coverage  penjangkauan: " f"{result.url}/office/outreach")


def _quiet_logs() -> None:
    """Keep the demo's output to the story: no per-request or migration log lines."""
    for name in ("werkzeug", "alembic", "field_client", "server"):
        logging.getLogger(name).setLevel(logging.WARNING)


def _start_server(app: Flask, port: int) -> BaseWSGIServer:
    """Serve ``app`` on 127.0.0.1 in a background thread; take a free port if ``port`` is busy.

    The socket is bound here, not by werkzeug: werkzeug ends the whole process on a taken port
    instead of raising.
    """
    listening = _listening_socket(port)
    try:
        server = make_server("127.0.0.1", listening.getsockname()[1], app, threaded=True,
                             fd=listening.fileno())
    finally:
        listening.close()  # the server holds its own duplicate of the socket
    threading.Thread(target=server.serve_forever, name="jemput-demo", daemon=True).start()
    return server


def _listening_socket(port: int) -> socket.socket:
    """A socket listening on 127.0.0.1:``port``, or on a free port when that one is taken."""
    for candidate in (port, 0):
        listening = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            listening.bind(("127.0.0.1", candidate))
            listening.listen(128)
            return listening
        except OSError as exc:
            listening.close()
            if exc.errno != errno.EADDRINUSE or candidate == 0:
                raise
    raise AssertionError("unreachable: port 0 always binds or raises")


def _wait(stop: threading.Event) -> None:
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
