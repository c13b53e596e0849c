"""Outreach planning at full scale: the ranking, planning visits, target lists, progress.

Loads the synthetic Sekadau registry (``server/demo/population.py``; 148,293 wajib KTP at scale
1) into a temporary SQLite database (and optionally a scratch PostgreSQL one), adds Jemput
records as ``bench/coverage.py`` does, then times the ranking (service, office JSON, office
page), planning a visit to each of the top desa (target-list snapshot included), the device's
target-list request (plain and gzip, with sizes), a visit's progress and its page, and closing.
A largest-desa visit is planned too, to show the size a real list reaches. Prints Markdown.
"""

from __future__ import annotations

import argparse
import gzip
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import func, select

from bench.coverage import AT, add_records, load
from bench.office import log_in
from bench.reconcile import scratch_app
from bench.timing import median_ms, on_databases
from server.accounts import users
from server.accounts.actor import Actor
from server.core.extensions import db, dispose_engines
from server.core.models import Device, Resident
from server.core.serialize import jsonable
from server.core.tokens import hash_token
from server.outreach import visits as outreach

PLANNER = Actor("bench", "supervisor")
DEVICE_TOKEN = "bench-outreach-device-token-0123456789abcdef"
TOP_VISITS = 3




def once_ms(work: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = work()
    return (time.perf_counter() - started) * 1000, result


def prepare(app: Flask) -> tuple[Any, dict[str, str], str]:
    """A logged-in supervisor client, their API header, and a device id with a known token."""
    with app.app_context():
        password = users.create_user("bench", "supervisor")
        token = users.issue_api_token("bench")
        db.session.add(Device(id="bench-outreach-device", name="laptop-outreach",
                              team="TIM-BENCH", token_hash=hash_token(DEVICE_TOKEN)))
        db.session.commit()
    return log_in(app, password), {"Authorization": f"Bearer {token}"}, "bench-outreach-device"


def measure(app: Flask, client: Any, api: dict[str, str],
            device_id: str) -> tuple[list[tuple[str, float, str]], dict[str, Any]]:
    """Each step's median (or single) milliseconds, and facts about the lists."""
    rows: list[tuple[str, float, str]] = []
    facts: dict[str, Any] = {}
    device = {"Authorization": f"Bearer {DEVICE_TOKEN}"}

    def in_app(work: Callable[[], Any]) -> Callable[[], Any]:
        def run() -> Any:
            with app.app_context():
                return work()
        return run

    def get(path: str, headers: dict[str, str] | None = None) -> Callable[[], Any]:
        def run() -> Any:
            answer = client.get(path, headers=headers or {})
            assert answer.status_code == 200, (path, answer.status_code)
            return answer
        return run

    rows.append(("ranking(), all 94 desa", median_ms(in_app(lambda: outreach.ranking(AT))), ""))
    rows.append(("ranking(), Nanga Mahap",
                 median_ms(in_app(lambda: outreach.ranking(AT, "61.09.04"))), ""))
    rows.append(("GET /api/v1/office/outreach/ranking",
                 median_ms(get(f"/api/v1/office/outreach/ranking?at={AT}", api)), ""))
    rows.append(("GET /office/outreach (page)", median_ms(get(f"/office/outreach?at={AT}")), ""))
    with app.app_context():
        top = outreach.ranking(AT)[:TOP_VISITS]
        biggest = db.session.execute(
            select(Resident.desa_kode).group_by(Resident.desa_kode)
            .order_by(func.count().desc()).limit(1)).scalar_one()
    facts["top"] = [(r.desa_nama, r.kecamatan_nama, r.not_recorded) for r in top]
    visits = []
    for desa in [r.desa_kode for r in top] + ([biggest] if biggest not in
                                              {r.desa_kode for r in top} else []):
        ms, visit = once_ms(in_app(lambda kode=desa: outreach.create_visit(
            kode, outreach.office_today(), "TIM-BENCH", device_id, actor=PLANNER)))
        rows.append((f"create_visit({visit.desa_nama}): {visit.target_count:,} targets", ms,
                     "once"))
        visits.append(visit)
    largest = max(visits, key=lambda v: v.target_count)
    url = f"/api/v1/outreach/visits/{largest.id}/targets"
    plain = client.get(url, headers=device)
    packed = client.get(url, headers={**device, "Accept-Encoding": "gzip"})
    assert packed.headers.get("Content-Encoding") == "gzip"
    assert len(gzip.decompress(packed.get_data())) == len(plain.get_data())
    facts["list"] = (largest.desa_nama, largest.target_count, len(plain.get_data()),
                     len(packed.get_data()))
    rows.append((f"targets_for_device(), {largest.target_count:,} targets",
                 median_ms(in_app(lambda: outreach.targets_for_device(largest.id,
                                                                        device_id))), ""))
    rows.append(("GET .../targets, plain JSON", median_ms(get(url, device)), "server side"))
    rows.append(("GET .../targets, gzip", median_ms(get(url, {**device,
                                                              "Accept-Encoding": "gzip"})),
                 "server side"))
    rows.append(("visit_progress()", median_ms(in_app(lambda: jsonable(
        outreach.visit_progress(largest.id)))), ""))
    rows.append(("GET /api/v1/office/outreach/visits/<id>",
                 median_ms(get(f"/api/v1/office/outreach/visits/{largest.id}", api)), ""))
    rows.append(("GET /office/outreach/<id> (page)",
                 median_ms(get(f"/office/outreach/{largest.id}")), ""))
    for visit in visits:
        ms, _ = once_ms(in_app(lambda v=visit: outreach.close_visit(v.id, actor=PLANNER)))
        rows.append((f"close_visit({visit.desa_nama})", ms, "once"))
    return rows, facts


def bench(url: str, folder: Path, scale: float, records: int) -> dict[str, Any]:
    app = scratch_app(url, folder)
    _, loaded, residents = load(app, scale)
    add_records(app, records)
    client, api, device_id = prepare(app)
    rows, facts = measure(app, client, api, device_id)
    dispose_engines(app)
    return {"loaded": loaded, "residents": residents, "rows": rows, **facts}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--records", type=int, default=5_000)
    parser.add_argument("--postgresql", help="also run on this (scratch!) PostgreSQL database")
    args = parser.parse_args()
    runs = on_databases(
        lambda url, folder: bench(url, folder, args.scale, args.records), args.postgresql
    )
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}; scale {args.scale}, reference date {AT}, "
          f"{args.records:,} Jemput records added after the load")
    for database, run in runs:
        name, count, plain, packed = run["list"]
        print(f"\n{database}: {run['residents']:,} residents loaded in {run['loaded']:.1f} s. "
              "Top of the ranking: " + "; ".join(f"{d} ({k}) {n:,}" for d, k, n in run["top"]))
        print(f"Largest list: {name}, {count:,} targets, {plain:,} bytes JSON, {packed:,} bytes "
              f"gzip ({plain / max(packed, 1):.1f}x smaller)")
        print(f"\n| {database} | ms | |")
        print("|---|---:|---|")
        for label, ms, note in run["rows"]:
            print(f"| {label} | {ms:.1f} | {note} |")


if __name__ == "__main__":
    main()
