"""Reconciliation benchmark: the checks over 150,000 registry residents and 130,000 records.

Generates the data once (not timed) into a scratch SQLite file and, with ``--postgresql``, a
scratch PostgreSQL database: the Sekadau regions, residents of its seven kecamatan, 20 devices,
records with all 14 biometric files each, and a realistic sprinkling of findings (names spelled
with accents or other case, which must still verify; registry mismatches, NIKs not in the
registry, the same NIK recorded twice, a shared file, a desa outside the device's kecamatan, a
wrong device clock, lost sequence numbers). Each database is then kept as a snapshot (a file
copy; a template database ``<name>_tpl``) and every round starts from it again: the first full
run, a full re-run on unchanged data, and an incremental run over the same 1,000 new records
(what the job after completeness does). Rounds alternate between the databases, so both see
the same machine load. Prints min/median/max of the wall time over ``--repeat`` rounds side by
side, with the CPU seconds of this Python process and of the PostgreSQL backends, and what the
runs decided (which must be the same on both databases). Not a test: nothing asserts a timing.

    .venv/bin/python -m bench.reconcile [--residents 150000] [--records 130000] [--repeat 3]
        [--postgresql postgresql://postgres@127.0.0.1:5432/bench] [--no-sqlite]
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import flask_migrate
import psycopg
from flask import Flask
from sqlalchemy import func, make_url, select, text

if not __package__:  # run as a script (bench/X.py): make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.timing import process_cpu
from server import create_app
from server.core import keyring
from server.core.bulk import copy_rows
from server.core.extensions import db
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
#: Records generated and inserted at a time (1,000,000 records do not fit in memory at once).
BATCH = 20_000
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
    today, used = dt.date.today(), set()
    people: list[dict[str, Any]] = []
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
        rows: list[tuple[Any, ...]] = []
        files: list[tuple[Any, ...]] = []
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


@dataclass
class Database:
    """One scratch database: where it is, its app, and how to put its snapshot back."""

    label: str
    url: str
    instance: Path
    app: Flask | None = None

    @property
    def postgresql(self) -> bool:
        return self.url.startswith("postgresql")

    def open(self) -> Flask:
        """A fresh app on the database (after :meth:`restore`)."""
        os.environ["JEMPUT_INSTANCE_PATH"] = str(self.instance)
        config: dict[str, Any] = {"SQLALCHEMY_DATABASE_URI": self.url}
        if self.postgresql:  # every host shares these there: a scratch pair will do
            config["SECRET_KEY"] = "jemput-bench-secret-key"
            config["JEMPUT_KEYRING"] = str(self.instance / keyring.FILE_NAME)
            keyring.ensure(Path(config["JEMPUT_KEYRING"]))
        self.app = create_app(config)
        return self.app

    def close(self) -> None:
        if self.app is not None:
            with self.app.app_context():
                db.engine.dispose()
            self.app = None

    def snapshot(self) -> None:
        """Keep the generated data: a copy of the file, or a template database."""
        self.close()
        if self.postgresql:
            self._admin(f"DROP DATABASE IF EXISTS {self._name()}_tpl",
                        f"CREATE DATABASE {self._name()}_tpl TEMPLATE {self._name()}")
        else:
            shutil.copyfile(self._file(), self._file().with_suffix(".snapshot"))

    def restore(self) -> None:
        """Back to the snapshot (what the first full run of every round starts from)."""
        self.close()
        if self.postgresql:
            self._admin(f"DROP DATABASE IF EXISTS {self._name()}",
                        f"CREATE DATABASE {self._name()} TEMPLATE {self._name()}_tpl")
        else:
            for leftover in (self._file().with_name(self._file().name + suffix)
                             for suffix in ("-wal", "-shm", "-journal")):
                leftover.unlink(missing_ok=True)
            shutil.copyfile(self._file().with_suffix(".snapshot"), self._file())

    def drop_snapshot(self) -> None:
        self.close()
        if self.postgresql:
            self._admin(f"DROP DATABASE IF EXISTS {self._name()}_tpl")

    def create(self) -> None:
        """Create the PostgreSQL database when it does not exist yet."""
        if self.postgresql:
            with psycopg.connect(self._admin_url(), autocommit=True) as admin:
                if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                                     (self._name(),)).fetchone():
                    admin.execute(f"CREATE DATABASE {self._name()}".encode())

    def backend_cpu(self) -> float:
        """CPU seconds so far of the PostgreSQL backends connected to the database (0 on
        SQLite): read from /proc, so only when the server runs on this machine."""
        if not self.postgresql:
            return 0.0
        with psycopg.connect(self._admin_url(), autocommit=True) as admin:
            pids = [pid for (pid,) in admin.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s", (self._name(),))]
        return sum(process_cpu(pid) for pid in pids)

    def _file(self) -> Path:
        return Path(str(make_url(self.url).database))

    def _name(self) -> str:
        return str(make_url(self.url).database)

    def _admin_url(self) -> str:
        url = make_url(self.url).set(drivername="postgresql", database="postgres")
        return url.render_as_string(hide_password=False)

    def _admin(self, *statements: str) -> None:
        with psycopg.connect(self._admin_url(), autocommit=True) as admin:
            for statement in statements:
                admin.execute(statement.encode())


def setup(database: Database) -> Flask:
    """A migrated, empty database holding only the Sekadau regions; its app."""
    database.create()
    app = database.open()
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            db.session.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
            db.session.commit()
        flask_migrate.upgrade()
        regions.seed_sekadau()
    return app


def scratch_app(url: str, instance: Path) -> Flask:
    """:func:`setup` on the scratch database at ``url`` (instance folder ``instance``): the
    other benchmarks' start."""
    return setup(Database("bench", url, instance))


@dataclass
class Extra:
    """The 1,000 records of the incremental run, inserted again in every round."""

    rows: list[tuple[Any, ...]]
    files: list[tuple[Any, ...]]
    seqs: dict[str, int]


def fill(databases: list[Database], people_count: int, record_count: int) -> Extra:
    """Insert the same residents, devices and records into every database (not timed)."""
    rng = random.Random(4)
    people = residents(people_count, rng)
    now = utcnow()
    people_rows = [
        (p["nik"], p["nama"], "SEKADAU", p["tanggal_lahir"], p["jenis_kelamin"], "O",
         "DUSUN HULU", "001", "002", p["desa_kode"], "KATHOLIK", "KAWIN", "PETANI/PEKEBUN",
         "WNI", False, now) for p in people]
    devices = [(str(uuid.UUID(int=rng.getrandbits(128), version=4)), KECAMATAN[i % 7])
               for i in range(DEVICES)]
    for database in databases:
        with _context(database):
            copy_rows(table_of(Resident), RESIDENT_COLUMNS, people_rows)
            for index, (device_id, kecamatan) in enumerate(devices):
                db.session.add(Device(id=device_id, name=f"laptop-{index + 1}",
                                      team=f"TIM-{index + 1}", kecamatan_kode=kecamatan,
                                      token_hash=hashlib.sha256(device_id.encode()).hexdigest()))
    generator = Generator(people, devices, rng)
    for start in range(0, record_count, BATCH):
        rows, files = generator.records(min(BATCH, record_count - start))
        for database in databases:
            with _context(database):
                insert(rows, files, generator.seq)
    rows, files = generator.records(1000)
    return Extra(rows, files, dict(generator.seq))


@contextmanager
def _context(database: Database) -> Iterator[None]:
    """The database's app context; commit at the end."""
    assert database.app is not None
    with database.app.app_context():
        yield
        db.session.commit()


def insert(rows: list[tuple[Any, ...]], files: list[tuple[Any, ...]],
           seqs: dict[str, int]) -> list[str]:
    """Insert complete records and their files, and the devices' last seqs; their ids."""
    copy_rows(table_of(Enrollment), ENROLLMENT_COLUMNS, rows)
    copy_rows(table_of(Attachment), ("enrollment_id", "role", "sha256", "size", "media_type"),
              files)
    for device_id, seq in seqs.items():
        db.session.execute(table_of(Device).update().where(Device.id == device_id)
                           .values(last_seq=seq, received_count=Device.received_count + 0))
    return [row[0] for row in rows]


@dataclass
class Measured:
    """One timed run."""

    seconds: float
    python_cpu: float
    backend_cpu: float
    report: checks.CheckReport
    open_cases: int
    states: dict[str, int]


RUNS = ("first full run", "full re-run, unchanged", "incremental, 1,000 new records")


def timed(database: Database, work: Callable[[], checks.CheckReport]) -> Measured:
    assert database.app is not None
    with database.app.app_context():
        db.session.execute(select(1))  # connect first: not part of the run
        db.session.commit()
        backend, python = database.backend_cpu(), time.process_time()
        started = time.perf_counter()
        report = work()
        seconds = time.perf_counter() - started
        python_cpu = time.process_time() - python
        backend_cpu = database.backend_cpu() - backend
        states = dict(db.session.execute(
            select(Enrollment.state, func.count()).group_by(Enrollment.state)).all())
        open_cases = db.session.execute(
            select(func.count()).select_from(Case).where(Case.state == "open")).scalar_one()
        db.session.commit()
    return Measured(seconds, python_cpu, backend_cpu, report, open_cases, states)


def one_round(database: Database, extra: Extra, restore: bool) -> list[Measured]:
    """From the snapshot (``restore``; else on the data as generated): the first full run, a
    re-run, then 1,000 new records checked."""
    if restore:
        database.restore()
    database.open()
    measured = [_logged(database, RUNS[0], timed(database, checks.run_checks)),
                _logged(database, RUNS[1], timed(database, checks.run_checks))]
    assert database.app is not None
    with database.app.app_context():
        new_ids = insert(extra.rows, extra.files, extra.seqs)
        db.session.commit()
    measured.append(_logged(database, RUNS[2],
                            timed(database, lambda: checks.run_checks(new_ids))))
    database.close()
    return measured


def _logged(database: Database, name: str, measured: Measured) -> Measured:
    """``measured``, shown on stderr as soon as it is known (a 1,000,000-record round is long)."""
    print(f"{database.label}, {name}: {measured.seconds:.2f} s, Python CPU "
          f"{measured.python_cpu:.2f} s, backend CPU {measured.backend_cpu:.2f} s",
          file=sys.stderr)
    return measured


@dataclass
class Results:
    """Every round's measurements, per database and run."""

    by_database: dict[str, list[list[Measured]]] = field(default_factory=dict)

    def of(self, label: str, run: int) -> list[Measured]:
        return [measured[run] for measured in self.by_database[label]]


def spread(values: list[float]) -> str:
    """``min / median / max``."""
    return f"{min(values):.2f} / {statistics.median(values):.2f} / {max(values):.2f}"


def print_results(results: Results, args: argparse.Namespace) -> None:
    labels = list(results.by_database)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}; {args.residents:,} residents, {args.records:,} records "
          f"x {len(vocab.BIOMETRIC_ROLES)} files; {args.repeat} rounds, min / median / max")
    print()
    header = f"| run | {' | '.join(f'{label} s' for label in labels)} |"
    if len(labels) == 2:
        header += " PostgreSQL / SQLite (median) |"
    print(header)
    print("|---" * (header.count("|") - 1) + "|")
    for run, name in enumerate(RUNS):
        cells = [spread([m.seconds for m in results.of(label, run)]) for label in labels]
        line = f"| {name} | {' | '.join(cells)} |"
        if len(labels) == 2:
            medians = [statistics.median(m.seconds for m in results.of(label, run))
                       for label in labels]
            line += f" {medians[1] / medians[0]:.2f} |"
        print(line)
    print()
    print("| run | database | Python CPU s | PostgreSQL backend CPU s |")
    print("|---|---|---|---|")
    for run, name in enumerate(RUNS):
        for label in labels:
            measured = results.of(label, run)
            backend = spread([m.backend_cpu for m in measured]) if label == "PostgreSQL" else "-"
            print(f"| {name} | {label} | {spread([m.python_cpu for m in measured])} | "
                  f"{backend} |")
    print()
    print("| run | database | checked | -> verified | -> needs_review | opened | cleared | "
          "open cases |")
    print("|---|---|---|---|---|---|---|---|")
    for run, name in enumerate(RUNS):
        for label in labels:
            decided = {_decided(m) for m in results.of(label, run)}
            for outcome in sorted(decided):
                print(f"| {name} | {label} | {' | '.join(str(v) for v in outcome)} |")
    every = {(*_decided(m), tuple(sorted(m.states.items())))
             for label in labels for run in range(len(RUNS)) for m in results.of(label, run)}
    rounds = len(RUNS)
    print(f"\nsame decisions in every round{' and on both databases' * (len(labels) == 2)}: "
          f"{'yes' if len(every) == rounds else 'NO'}")
    for label in labels:
        print(f"{label} states after the runs: {results.of(label, rounds - 1)[0].states}")


def _decided(measured: Measured) -> tuple[int, ...]:
    report = measured.report
    return (report.checked, report.verified, report.needs_review, report.cases_opened,
            report.cases_cleared, measured.open_cases)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--residents", type=int, default=150_000)
    parser.add_argument("--records", type=int, default=130_000)
    parser.add_argument("--repeat", type=int, default=3, help="rounds from the snapshot")
    parser.add_argument("--postgresql", help="also run on this (scratch!) PostgreSQL database; "
                        "its <name>_tpl is made and dropped too")
    parser.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        databases = [] if args.no_sqlite else [
            Database("SQLite", f"sqlite:///{folder / 'bench.db'}", folder)]
        if args.postgresql:
            databases.append(Database("PostgreSQL", args.postgresql, folder))
        started = time.perf_counter()
        for database in databases:
            setup(database)
        extra = fill(databases, args.residents, args.records)
        for database in databases:
            if database.postgresql:  # what autovacuum does after a bulk load
                assert database.app is not None
                with database.app.app_context(), db.engine.connect().execution_options(
                        isolation_level="AUTOCOMMIT") as conn:
                    conn.execute(text("VACUUM ANALYZE"))
            if args.repeat > 1:
                database.snapshot()
            database.close()
        print(f"data generated and inserted in {time.perf_counter() - started:.0f} s",
              file=sys.stderr)
        results = Results({database.label: [] for database in databases})
        try:
            for round_number in range(args.repeat):
                for database in databases:
                    results.by_database[database.label].append(
                        one_round(database, extra, restore=round_number > 0))
                    print(f"round {round_number + 1} on {database.label} done", file=sys.stderr)
        finally:
            for database in databases:
                database.drop_snapshot()
    print_results(results, args)


if __name__ == "__main__":
    main()
