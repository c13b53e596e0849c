"""Outreach target lists: a list of 2,000 residents reaching the device, and offline search.

Starts the real server (gunicorn on loopback, scratch SQLite instance), puts ``--targets``
unrecorded wajib-KTP residents into one Nanga Mahap desa (with ``--others`` residents elsewhere,
or ``--demo``: the full demo population), registers a real ``FieldClient`` and plans a visit for
it through the outreach service. Then times, end to end, the device's ``sync`` that takes the
feed entry, fetches the target list (HTTP, gzip) and stores it (one transaction), ``--repeat``
times (the list is dropped and the cursor rewound between runs, so each run fetches it afresh);
and the offline search over the stored list with ``--records`` records on the device (median of
20 per query, done marks included). Not timed: filling the database. Prints a table; targets:
sync < 2 s, search < 50 ms.

    .venv/bin/python -m bench.targets [--targets 2000] [--others 20000 | --demo] [--repeat 5]
        [--records 1000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from faker import Faker

from field_client.client import FieldClient
from field_client.config import load_settings
from tests.support.processes import ServerProcess

DESA = "61.09.04.2006"  # a desa of Nanga Mahap
OTHER_DESA = ("61.09.01.2001", "61.09.02.2001", "61.09.03.2001", "61.09.05.2001")
SYNC_TARGET_S, SEARCH_TARGET_MS = 2.0, 50.0
SEARCH_REPEAT = 20
RESIDENT_COLUMNS = ("nik", "nama", "tempat_lahir", "tanggal_lahir", "jenis_kelamin",
                    "golongan_darah", "alamat", "rt", "rw", "desa_kode", "agama",
                    "status_perkawinan", "pekerjaan", "kewarganegaraan", "recorded", "updated_at")


def people(count: int, desa: tuple[str, ...], rng: random.Random, fake: Faker,
           used: set[str]) -> list[tuple[Any, ...]]:
    """Resident rows: adults (wajib KTP), not recorded, valid unique NIKs, Faker id_ID names."""
    today, rows = dt.date.today(), list[tuple[Any, ...]]()
    while len(rows) < count:
        woman = rng.random() < 0.5
        born = today - dt.timedelta(days=rng.randint(18 * 365, 80 * 365))
        code = rng.choice(desa)
        nik = f"{code[:8].replace('.', '')}{born.day + (40 if woman else 0):02d}" \
              f"{born:%m%y}{rng.randint(1, 9999):04d}"
        if nik in used:
            continue
        used.add(nik)
        name = (fake.name_female() if woman else fake.name_male()).upper()
        if rng.random() < 0.05:  # some names written with an accent, as registries hold them
            name = name.replace("E", "É", 1)
        rows.append((nik, name, "SEKADAU", born, "PEREMPUAN" if woman else "LAKI-LAKI", "O",
                     f"DUSUN {fake.last_name().upper()}", f"{rng.randint(1, 9):03d}",
                     f"{rng.randint(1, 4):03d}", code, "KATHOLIK", "KAWIN", "PETANI/PEKEBUN",
                     "WNI", False, dt.datetime.now(dt.UTC)))
    return rows


def fill(targets: int, others: int, demo: bool) -> None:
    """The registry (not timed): the demo population (``demo``) or ``others`` residents
    elsewhere, and residents in DESA so that ``targets`` of them are wajib and unrecorded."""
    from sqlalchemy import select

    from server import create_app
    from server.core.bulk import insert_rows
    from server.core.extensions import db, dispose_engines
    from server.core.models import Resident
    from server.core.models.base import table_of

    rng, fake = random.Random(5), Faker("id_ID")
    fake.seed_instance(5)
    app = create_app()
    with app.app_context():
        if demo:
            from server.coverage import figures
            from server.demo import population as demo_population

            demo_population.load(1.0, at=dt.date.today())
            targets -= figures.desa_unrecorded(dt.date.today()).get(DESA, 0)
        else:
            used: set[str] = set()
            insert_rows(table_of(Resident), RESIDENT_COLUMNS,
                        people(others, OTHER_DESA, rng, fake, used))
        used = set(db.session.execute(select(Resident.nik)).scalars())
        insert_rows(table_of(Resident), RESIDENT_COLUMNS,
                    people(max(targets, 0), (DESA,), rng, fake, used))
        db.session.commit()
    dispose_engines(app)


def plan_visit(device_id: str) -> tuple[str, int]:
    """Plan a visit to DESA today for the device; (visit id, target count)."""
    from server import create_app
    from server.accounts.actor import Actor
    from server.core.extensions import dispose_engines
    from server.outreach import visits

    app = create_app()
    with app.app_context():
        made = visits.create_visit(DESA, visits.office_today(), "BENCH", device_id,
                                     actor=Actor("bench", "admin"))
        visit_id, count = str(made.id), int(made.target_count)
    dispose_engines(app)
    return visit_id, count


def median_ms(work: Callable[[], Any], repeat: int = SEARCH_REPEAT) -> tuple[float, int]:
    """Median wall time of ``work`` in ms (after one warm-up), and the size of its result."""
    found = len(work())
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), found


def time_syncs(client: FieldClient, repeat: int) -> list[float]:
    """Seconds per sync that fetches and stores the target list afresh."""
    seconds = []
    for _ in range(repeat):
        with client.outbox.atomic():
            client.outbox.execute("DELETE FROM outreach_visit")
            client.outbox.set_meta("pull_cursor", 0)
        started = time.perf_counter()
        report = client.sync()
        seconds.append(time.perf_counter() - started)
        assert report.visits_received == 1 and report.pull_error is None, report
    return seconds


def day_of_records(client: FieldClient, count: int) -> None:
    """``count`` records in the outbox (rows only, no files), every other one of a target, so
    the done marks have a record table to look through, as after days of recording."""
    listed = client.targets()
    now = "2026-11-27T03:00:00Z"
    rows = [
        (str(uuid.UUID(int=seq, version=4)), seq, "complete", "{}", "0" * 64,
         listed[seq % len(listed)]["nik"] if seq % 2 else f"6109{seq:012d}", "X", "op.bench",
         now, now, now)
        for seq in range(1, count + 1)
    ]
    with client.outbox.atomic():
        client.outbox.executemany(
            "INSERT INTO record (id, seq, state, body, record_sha256, nik, nama, operator, "
            "captured_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)


def searches(client: FieldClient) -> list[tuple[str, float, int]]:
    """(query, median ms, hits) for typical searches over the stored list."""
    listed = client.targets()
    sample = listed[len(listed) // 2]
    first = sample["nama"].split()[0]
    accented = next(t["nama"] for t in listed if "É" in t["nama"])
    plain = next(word for word in accented.split() if "É" in word).replace("É", "e").lower()
    queries: list[tuple[str, str | None]] = [
        ("whole list (no search)", None),
        (f"first name '{first.lower()}'", first.lower()),
        ("part of a name 'ani'", "ani"),
        (f"'{plain}' finds '{plain.upper().replace('E', 'É', 1)}'", plain),
        (f"NIK part '{sample['nik'][6:12]}'", sample["nik"][6:12]),
        ("whole NIK", sample["nik"]),
        ("no match 'zzzq'", "zzzq"),
        ("wildcards \"%_'; --\"", "%_'; --"),
    ]
    rows = []
    for label, text in queries:
        ms, hits = median_ms(lambda text=text: client.targets(text))  # type: ignore[misc]
        rows.append((label, ms, hits))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=int, default=2000)
    parser.add_argument("--others", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--records", type=int, default=1000,
                        help="records in the outbox while searching (done marks)")
    parser.add_argument("--demo", action="store_true",
                        help="the full demo population (~225,000 residents) instead of --others")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="jemput-bench-targets-") as scratch:
        folder = Path(scratch)
        os.environ["JEMPUT_INSTANCE_PATH"] = str(folder / "instance")
        server = ServerProcess.initialised(folder / "instance", workers=2, threads=4,
                                           log_level="warning")
        try:
            started = time.perf_counter()
            fill(args.targets, args.others, args.demo)
            code = server.device_code("BENCH")
            client = FieldClient(settings=load_settings(folder / "field", environ={}))
            device = client.register(server.url, code, "bench-laptop")
            visit_id, count = plan_visit(device.device_id)
            print(f"prepared the registry and a visit with {count:,} targets in "
                  f"{time.perf_counter() - started:.1f} s", file=sys.stderr)
            seconds = time_syncs(client, args.repeat)
            stored = len(client.targets(visit_id=visit_id))
            day_of_records(client, args.records)
            done = client.visits()[0]["done"]
            rows = searches(client)
            client.close()
        finally:
            server.stop()
    report(args, count, stored, done, seconds, rows)


def report(args: argparse.Namespace, count: int, stored: int, done: int, seconds: list[float],
           rows: list[tuple[str, float, int]]) -> None:
    """Print the table."""
    print(f"# bench/targets.py: {platform.python_version()}, {os.cpu_count()} CPUs, SQLite, "
          f"gunicorn 2 workers x 4 threads on loopback")
    registry = "full demo population" if args.demo else f"{args.others:,} other residents"
    print(f"registry: {registry}; target list: {count:,} planned, {stored:,} on the device; "
          f"{args.records:,} records on the device, {done:,} targets done")
    print()
    print(f"{'what':<44} {'median':>10} {'max':>10} {'target':>8}")
    print(f"{'sync: feed + GET target list + store':<44} {statistics.median(seconds):>8.3f} s "
          f"{max(seconds):>8.3f} s {SYNC_TARGET_S:>6.1f} s")
    for label, ms, hits in rows:
        name = f"search {label} ({hits} hits)"
        print(f"{name:<44} {ms:>7.2f} ms {'':>10} {SEARCH_TARGET_MS:>5.0f} ms")


if __name__ == "__main__":
    main()
