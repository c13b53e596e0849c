"""Coverage at full scale: the demo population's generation and load, then the coverage reports.

Loads the synthetic Sekadau registry (``server/demo/population.py``, 225,494 residents, 148,293
wajib KTP at scale 1) into a temporary SQLite database (and optionally a scratch PostgreSQL
one), adds Jemput records for some unrecorded residents spread over the last 30 days, then times
the coverage service, the office page (login and template rendering included), its CSV, the
JSON API and ``desa_unrecorded``; prints the median of several runs as a Markdown table.
The outreach ranking and target-list figures are in ``bench/targets.py`` and the outreach bench.
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

from flask import Flask
from sqlalchemy import func, select

from bench.office import logged_in
from bench.reconcile import ENROLLMENT_COLUMNS, scratch_app
from bench.timing import median_ms, on_databases
from server.core.bulk import insert_rows
from server.core.extensions import db, dispose_engines
from server.core.models import Device, Enrollment, Resident
from server.core.models.base import table_of
from server.core.timeutil import utcnow
from server.coverage import figures as coverage
from server.demo import population as demo_population
from server.registry.wajib import RECORDING_STATES, is_wajib

TARGET_MS = 300
AT = dt.date(2026, 11, 29)




def load(app: Flask, scale: float) -> tuple[float, float, int]:
    """Time generating alone, then generating and loading; (seconds, seconds, residents)."""
    started = time.perf_counter()
    count = sum(1 for _ in demo_population.generate(scale, at=AT))
    generated = time.perf_counter() - started
    with app.app_context():
        summary = demo_population.load(scale, at=AT)
    return generated, summary.seconds, count


def add_records(app: Flask, count: int) -> None:
    """``count`` Jemput records of random unrecorded wajib residents, received over 30 days."""
    rng = random.Random(5)
    now = utcnow()
    with app.app_context():
        device_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        db.session.add(Device(id=device_id, name="laptop-bench", team="TIM-BENCH",
                              kecamatan_kode="61.09.04",
                              token_hash=hashlib.sha256(device_id.encode()).hexdigest()))
        db.session.flush()
        people = db.session.execute(
            select(Resident.nik, Resident.desa_kode)
            .where(Resident.recorded.is_(False), is_wajib(AT))
            .order_by(func.random()).limit(count)).all()  # spread over every desa
        states = [*RECORDING_STATES, "rejected", "duplicate"]
        rows = []
        for seq, (nik, desa) in enumerate(people, start=1):
            received = now - dt.timedelta(minutes=rng.randint(0, 30 * 24 * 60))
            rows.append((str(uuid.UUID(int=rng.getrandbits(128), version=4)), device_id, seq,
                         "enrollment", received, "op.bench", nik, desa, {"nik": nik}, [], [],
                         None, "0" * 64, rng.choice(states), received, received))
        insert_rows(table_of(Enrollment), ENROLLMENT_COLUMNS, rows)
        db.session.commit()


def measure(app: Flask, client: Any, token: str) -> list[tuple[str, float]]:
    """Median milliseconds of each service call and request."""

    def get(path: str, **headers: str) -> Callable[[], None]:
        def run() -> None:
            answer = client.get(path, headers=headers)
            assert answer.status_code == 200, (path, answer.status_code)
            answer.get_data()  # a CSV streams: read it all

        return run

    at = AT.isoformat()
    bearer = {"Authorization": f"Bearer {token}"}
    results = []
    with app.app_context():
        results += [
            ("service: report, regency + 7 kecamatan + 94 desa",
             median_ms(lambda: coverage.report(AT))),
            ("service: report, Nanga Mahap", median_ms(lambda: coverage.report(AT, "61.09.04"))),
            ("service: trend, 30 days", median_ms(lambda: coverage.trend(30))),
            ("service: desa_unrecorded, all desa",
             median_ms(lambda: coverage.desa_unrecorded(AT))),
        ]
    results += [
        ("page /office/coverage (all)", median_ms(get(f"/office/coverage?at={at}"))),
        ("page /office/coverage?region=61.09.04",
         median_ms(get(f"/office/coverage?at={at}&region=61.09.04"))),
        ("CSV /office/coverage.csv", median_ms(get(f"/office/coverage.csv?at={at}"))),
        ("JSON /api/v1/office/coverage", median_ms(get(f"/api/v1/office/coverage?at={at}",
                                                        **bearer))),
    ]
    return results


def bench(url: str, folder: Path, scale: float, records: int) -> dict[str, Any]:
    """Everything for one database; returns the figures."""
    app = scratch_app(url, folder)
    generated, loaded, residents = load(app, scale)
    with app.app_context():
        top = coverage.report(AT).top
        assert top is not None
        before = (top.wajib, top.recorded, str(top.percent))
    add_records(app, records)
    client, token = logged_in(app, "viewer")
    timings = measure(app, client, token)
    dispose_engines(app)
    return {"generated": generated, "loaded": loaded, "residents": residents,
            "before": before, "timings": timings}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--records", type=int, default=5_000,
                        help="Jemput records added before timing the reports")
    parser.add_argument("--postgresql", help="also run on this (scratch!) PostgreSQL database")
    args = parser.parse_args()
    runs = on_databases(
        lambda url, folder: bench(url, folder, args.scale, args.records), args.postgresql
    )
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}; scale {args.scale}, reference date {AT}, "
          f"{args.records:,} Jemput records added after the load")
    for database, run in runs:
        wajib, recorded, percent = run["before"]
        print(f"\n{database}: {run['residents']:,} residents generated in "
              f"{run['generated']:.1f} s; generated + loaded in {run['loaded']:.1f} s; "
              f"regency before any outreach: wajib {wajib:,}, recorded {recorded:,} "
              f"({percent} %)", file=sys.stdout)
        print(f"\n| {database} | median ms | target {TARGET_MS} ms (pages) |")
        print("|---|---:|---|")
        for name, ms in run["timings"]:
            verdict = ("ok" if ms < TARGET_MS else "MISSED") if "/" in name else ""
            print(f"| {name} | {ms:.1f} | {verdict} |")


if __name__ == "__main__":
    main()
