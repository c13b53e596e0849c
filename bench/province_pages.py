"""Coverage and the office pages at province scale (PostgreSQL): 5 M residents, 1 M records.

Copies the template of ``bench/province.py`` (Kalimantan Barat, built once) to a scratch
database, upgrades it to the newest migration, logs a reviewer in, then times each page through
the real app (login, templates, the test client) and prints min / median / max milliseconds of
``--repeat`` requests after one warm-up, as a Markdown table. Coverage figures come from the
summary the refresh job keeps (:mod:`server.coverage.summary`): the bench runs one refresh
first (timed) unless ``--live`` is given, which times the live recount instead.

    .venv/bin/python -m bench.province_pages [--repeat 5] [--live] [--keep]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

from flask import Flask
from sqlalchemy import select, text

from bench import province
from bench.office import logged_in
from bench.timing import stats_ms
from server.core.extensions import db, dispose_engines
from server.core.models import Enrollment

TARGET_MS = 300
SCRATCH = "h_prov_pages"
KABUPATEN = "61.01"  # Sambas, the most populous
KECAMATAN = "61.01.01"
DESA = "61.01.01.2001"


def later_record(app: Flask) -> str:
    """An id half-way through the records: the cursor of a later keyset page."""
    with app.app_context():
        found = db.session.execute(select(Enrollment.id).order_by(Enrollment.id)
                                   .offset(500_000).limit(1)).scalar()
        if found is None:
            found = db.session.execute(select(Enrollment.id).order_by(Enrollment.id)
                                       .limit(1)).scalar_one()
        db.session.commit()
    return found


def pages(after: str) -> list[tuple[str, str]]:
    """(name, path) of every page timed."""
    return [
        ("coverage, province (14 kabupaten)", "/office/coverage"),
        (f"coverage, kabupaten {KABUPATEN}", f"/office/coverage?region={KABUPATEN}"),
        (f"coverage, kecamatan {KECAMATAN}", f"/office/coverage?region={KECAMATAN}"),
        (f"coverage, desa {DESA}", f"/office/coverage?region={DESA}"),
        ("coverage JSON API, province", "/api/v1/office/coverage"),
        (f"coverage JSON API, kabupaten {KABUPATEN}",
         f"/api/v1/office/coverage?region={KABUPATEN}"),
        ("dashboard", "/office/"),
        ("review queue, first page", "/office/cases"),
        ("review queue, filtered (kind + kecamatan)",
         f"/office/cases?kind=duplicate_nik&kecamatan={KECAMATAN}"),
        ("records list, first page", "/office/records"),
        ("records list, later keyset page", f"/office/records?after={after}"),
        ("records list, verified, first page", "/office/records?state=verified"),
    ]


def refresh(app: Flask) -> float | None:
    """Run one coverage refresh (what the job does); seconds, or None before it existed."""
    try:
        from server.coverage import summary
    except ImportError:
        return None
    with app.app_context():
        started = time.perf_counter()
        summary.refresh()
        db.session.commit()
        return time.perf_counter() - started


def measure(app: Flask, repeat: int) -> list[tuple[str, tuple[float, float, float]]]:
    client, token = logged_in(app, "reviewer")
    bearer = {"Authorization": f"Bearer {token}"}
    results = []
    for name, path in pages(later_record(app)):
        headers = bearer if path.startswith("/api/") else {}

        def get(path: str = path, headers: dict[str, str] = headers) -> None:
            answer = client.get(path, headers=headers)
            assert answer.status_code == 200, (path, answer.status_code)
            answer.get_data()

        results.append((name, stats_ms(get, repeat)))
        print(f"  {name}: {results[-1][1][1]:.0f} ms", file=sys.stderr)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--live", action="store_true",
                        help="no coverage refresh: time the live recount")
    parser.add_argument("--keep", action="store_true", help="keep the scratch copy")
    args = parser.parse_args()
    url = province.fresh_copy(SCRATCH)
    migrated = province.migrate(url)
    with tempfile.TemporaryDirectory() as scratch:
        app = province.make_app(url, Path(scratch))
        with app.app_context(), db.engine.connect().execution_options(
                isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE"))
        refreshed = None if args.live else refresh(app)
        results = measure(app, args.repeat)
        dispose_engines(app)
    if not args.keep:
        province.drop(SCRATCH)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}; copy of {province.TEMPLATE}; migrations to head in "
          f"{migrated:.1f} s; coverage refresh: "
          f"{'none (live)' if refreshed is None else f'{refreshed:.1f} s'}; "
          f"{args.repeat} requests after a warm-up")
    print(f"\n| page | min ms | median ms | max ms | target {TARGET_MS} ms |")
    print("|---|---:|---:|---:|---|")
    for name, (low, mid, high) in results:
        verdict = "ok" if mid < TARGET_MS else "MISSED"
        print(f"| {name} | {low:.0f} | {mid:.0f} | {high:.0f} | {verdict} |")


if __name__ == "__main__":
    main()
