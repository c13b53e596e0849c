"""Reconciliation benchmark: the checks over 150,000 registry residents and 130,000 records.

Generates the data straight into a scratch database (not timed): the Sekadau regions, residents
of its seven kecamatan, 20 devices, records with all 14 biometric files each, and a realistic
sprinkling of findings (names spelled with accents or other case, which must still verify;
registry mismatches, NIKs not in the registry, the same NIK recorded twice, a shared file, a desa
outside the device's kecamatan, a wrong device clock, lost sequence numbers). Then times:
the first full run, a full re-run on unchanged data, and an incremental run over 1,000 new
records (what the hook after completeness does). Prints a table. Not a test: nothing asserts
a timing.

    .venv/bin/python bench/reconcile.py [--residents 150000] [--records 130000]
        [--postgresql postgresql://postgres@127.0.0.1:5432/bench]
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import os
import platform
import random
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import flask_migrate
from flask import Flask
from sqlalchemy import func, select, text

from bench.timing import on_databases
from server import create_app
from server.core.bulk import insert_rows
from server.core.extensions import db, dispose_engines
from server.core.models import Attachment, Case, Device, Enrollment, Resident
from server.core.models.base import table_of
from server.core.timeutil import utcnow
from server.demo.residents import desa_of
from server.registry import regions
from server.review import checks
from shared import vocab

KECAMATAN = ("61.09.01", "61.09.02", "61.09.03", "61.09.04", "61.09.05", "61.09.06", "61.09.07")
FIRST = ("MARIA", "YOHANES", "AGUSTINUS", "SITI", "MARKUS", "ELISABET", "PETRUS", "DEWI",
         "ANDREAS", "KRISTINA", "ANTONIUS", "RINA", "YOSEF", "HERLINA", "FRANSISKUS", "NURHAYATI")
LAST = ("GORETTI", "BOSCO", "SUGIANTO", "LIMBAI", "JUNAIDI", "UNTUNG", "AYUNI", "TAMBUN",
        "SIMANJUNTAK", "PURBA", "SAGALA", "NAINGGOLAN", "SETIAWAN", "HIDAYAT", "LEONARDUS")
ACCENTED = {"E": "É", "A": "Á", "O": "Ö"}
DEVICES = 20
ENROLLMENT_COLUMNS = (
    "id", "device_id", "seq", "type", "captured_at", "operator", "nik", "desa_kode", "payload",
    "exceptions", "warnings", "supersedes", "record_sha256", "state", "received_at",
    "state_changed_at",
)
RESIDENT_COLUMNS = ("nik", "nama", "tempat_lahir", "tanggal_lahir", "jenis_kelamin",
                    "golongan_darah", "alamat", "rt", "rw", "desa_kode", "agama",
                    "status_perkawinan", "pekerjaan", "kewarganegaraan", "recorded", "updated_at")


def residents(count: int, rng: random.Random) -> list[dict[str, Any]]:
    """Registry entries with valid, unique NIKs spread over Sekadau's kecamatan."""
    today, used, people = dt.date.today(), set(), []
    while len(people) < count:
        kec = rng.choice(KECAMATAN)
        woman = rng.random() < 0.49
        born = today - dt.timedelta(days=rng.randint(17 * 365 + 5, 80 * 365))
        day = born.day + (40 if woman else 0)
        nik = f"{kec.replace('.', '')}{day:02d}{born:%m%y}{rng.randint(1, 9999):04d}"
        if nik in used:
            continue
        used.add(nik)
        people.append({
            "nik": nik, "nama": f"{rng.choice(FIRST)} {rng.choice(LAST)}",
            "tanggal_lahir": born, "jenis_kelamin": "PEREMPUAN" if woman else "LAKI-LAKI",
            "desa_kode": rng.choice(desa_of(kec)),
        })
    return people


def payload(person: dict[str, Any]) -> dict[str, Any]:
    """The card payload a device sends for ``person``."""
    return {
        "nik": person["nik"], "nama": person["nama"], "tempat_lahir": "SEKADAU",
        "tanggal_lahir": person["tanggal_lahir"].isoformat(),
        "jenis_kelamin": person["jenis_kelamin"], "golongan_darah": "O", "alamat": "DUSUN HULU",
        "rt": "001", "rw": "002", "desa_kode": person["desa_kode"], "agama": "KATHOLIK",
        "status_perkawinan": "KAWIN", "pekerjaan": "PETANI/PEKEBUN", "kewarganegaraan": "WNI",
    }


class Generator:
    """Records for the devices, with the planted findings."""

    def __init__(self, people: list[dict[str, Any]], devices: list[tuple[str, str]],
                 rng: random.Random) -> None:
        self.devices, self.rng = devices, rng
        self.people: dict[str, list[dict[str, Any]]] = {kec: [] for kec in KECAMATAN}
        for person in people:
            self.people[person["desa_kode"][:8]].append(person)
        self.seq = dict.fromkeys((d for d, _ in devices), 0)
        self.next_person = dict.fromkeys(KECAMATAN, 0)
        self.now = utcnow()

    def records(self, count: int) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        """``count`` complete records and their attachment rows."""
        rows, files = [], []
        for _ in range(count):
            device_id, kecamatan = self.rng.choice(self.devices)
            person, captured = self._person(kecamatan), self.now - dt.timedelta(days=1)
            roll = self.rng.random()
            if roll < 0.01:  # registry mismatch: another birth date
                person["tanggal_lahir"] = person["tanggal_lahir"] + dt.timedelta(days=3)
            elif roll < 0.03:  # same person, name typed in another case and with accents
                person["nama"] = "".join(ACCENTED.get(c, c) for c in person["nama"].lower())
            elif roll < 0.035:  # clock wrong
                captured = self.now + dt.timedelta(days=2)
            elif roll < 0.037:  # outside the device's kecamatan
                person["desa_kode"] = "61.09.07.2001" if kecamatan != "61.09.07" else \
                    "61.09.01.2001"
            self.seq[device_id] += 2 if self.rng.random() < 0.0002 else 1  # a lost seq
            record_id = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
            rows.append((record_id, device_id, self.seq[device_id], "enrollment", captured,
                         "op.bench", person["nik"], person["desa_kode"], payload(person), [], [],
                         None, "0" * 64, "complete", self.now, self.now))
            shared = self.rng.random() < 0.001
            for role in vocab.BIOMETRIC_ROLES:
                seed = "shared-photo" if shared and role == "photo" else f"{record_id}:{role}"
                files.append((record_id, role, hashlib.sha256(seed.encode()).hexdigest(),
                              20_000, "image/jpeg"))
        return rows, files

    def _person(self, kecamatan: str) -> dict[str, Any]:
        """The kecamatan's next resident; 1 % strangers, 0.5 % someone recorded before."""
        people, done = self.people[kecamatan], self.next_person[kecamatan]
        roll = self.rng.random()
        if roll < 0.005 and done:
            return dict(people[self.rng.randrange(min(done, len(people)))])
        if roll < 0.015:
            stranger = residents(1, self.rng)[0]
            stranger["nik"] = stranger["nik"][:12] + "9999"
            stranger["desa_kode"] = people[0]["desa_kode"]
            return stranger
        self.next_person[kecamatan] += 1
        return dict(people[done % len(people)])


def setup(url: str, instance: Path) -> Flask:
    """A migrated database at ``url`` holding only the Sekadau regions."""
    os.environ["JEMPUT_INSTANCE_PATH"] = str(instance)
    app = create_app({"SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            db.session.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
            db.session.commit()
        flask_migrate.upgrade()
        regions.seed_sekadau()
    return app


def fill(app: Flask, people_count: int, record_count: int) -> Generator:
    """Insert residents, devices and records (not timed)."""
    rng = random.Random(4)
    people = residents(people_count, rng)
    now = utcnow()
    with app.app_context():
        insert_rows(table_of(Resident), RESIDENT_COLUMNS, [
            (p["nik"], p["nama"], "SEKADAU", p["tanggal_lahir"], p["jenis_kelamin"], "O",
             "DUSUN HULU", "001", "002", p["desa_kode"], "KATHOLIK", "KAWIN", "PETANI/PEKEBUN",
             "WNI", False, now) for p in people])
        devices = [(str(uuid.UUID(int=rng.getrandbits(128), version=4)), KECAMATAN[i % 7])
                   for i in range(DEVICES)]
        for index, (device_id, kecamatan) in enumerate(devices):
            db.session.add(Device(id=device_id, name=f"laptop-{index + 1}",
                                  team=f"TIM-{index + 1}", kecamatan_kode=kecamatan,
                                  token_hash=hashlib.sha256(device_id.encode()).hexdigest()))
        db.session.flush()
        generator = Generator(people, devices, rng)
        insert(generator, record_count)
        db.session.commit()
    return generator


def insert(generator: Generator, count: int) -> list[str]:
    """Insert ``count`` complete records (and their files); return their ids."""
    rows, files = generator.records(count)
    insert_rows(table_of(Enrollment), ENROLLMENT_COLUMNS, rows)
    insert_rows(table_of(Attachment), ("enrollment_id", "role", "sha256", "size", "media_type"),
                files)
    for device_id, seq in generator.seq.items():
        db.session.execute(Device.__table__.update().where(Device.id == device_id)
                           .values(last_seq=seq, received_count=Device.received_count + 0))
    return [row[0] for row in rows]


def timed(app: Flask, name: str, work: Callable[[], checks.CheckReport]) -> tuple[Any, ...]:
    with app.app_context():
        started = time.perf_counter()
        report = work()
        seconds = time.perf_counter() - started
        states = dict(db.session.execute(
            select(Enrollment.state, func.count()).group_by(Enrollment.state)).all())
        open_cases = db.session.execute(
            select(func.count()).select_from(Case).where(Case.state == "open")).scalar_one()
    return name, seconds, report, states, open_cases


def bench(url: str, instance: Path, people: int, records: int) -> list[tuple[Any, ...]]:
    app = setup(url, instance)
    started = time.perf_counter()
    generator = fill(app, people, records)
    print(f"[{url.split(':')[0]}] data generated and inserted in "
          f"{time.perf_counter() - started:.0f} s", file=sys.stderr)
    with app.app_context():
        if db.engine.dialect.name == "postgresql":  # what autovacuum does after a bulk load
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM ANALYZE"))
    rows = [timed(app, "first full run", checks.run_checks),
            timed(app, "full re-run, unchanged", checks.run_checks)]
    with app.app_context():
        new_ids = insert(generator, 1000)
        db.session.commit()
    rows.append(timed(app, "incremental, 1,000 new records",
                      lambda: checks.run_checks(new_ids)))
    dispose_engines(app)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--residents", type=int, default=150_000)
    parser.add_argument("--records", type=int, default=130_000)
    parser.add_argument("--postgresql", help="also run on this (scratch!) PostgreSQL database")
    args = parser.parse_args()
    results = on_databases(
        lambda url, folder: bench(url, folder, args.residents, args.records), args.postgresql
    )
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}; {args.residents:,} residents, {args.records:,} records "
          f"x {len(vocab.BIOMETRIC_ROLES)} files")
    print(f"{'database':10} {'run':32} {'seconds':>8} {'checked':>8} {'->verified':>10} "
          f"{'->review':>9} {'opened':>7} {'cleared':>8} {'open cases':>10}")
    for database, rows in results:
        for name, seconds, report, _states, open_cases in rows:
            print(f"{database:10} {name:32} {seconds:8.2f} {report.checked:8d} "
                  f"{report.verified:10d} {report.needs_review:9d} {report.cases_opened:7d} "
                  f"{report.cases_cleared:8d} {open_cases:10d}")
    for database, rows in results:
        print(f"{database} states after the runs: {rows[-1][3]}")


if __name__ == "__main__":
    main()
