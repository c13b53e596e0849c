"""Blanko and printing at Sekadau scale: the print queue, printing cards, forecast, summary.

Builds a temporary SQLite database (and optionally a scratch PostgreSQL one) with ``--records``
approved records (``bench/reconcile.py``'s generator), receives ``--stock`` blanks, then times
the queue's first page (plain, by kecamatan, by age, priority only), a deep page, printing
``--prints`` cards one by one (each its own transaction: lock, job, ledger entry, move, feed,
audit, Suket supersession), a misprint and reprint, the forecast and the daily summary.
Prints Markdown.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import sys
import time
from pathlib import Path

from sqlalchemy import select, text, update

from bench.reconcile import Database, fill, setup
from bench.timing import median_ms, on_databases
from server.accounts.actor import Actor
from server.cards import blanko, printing
from server.core.extensions import db, dispose_engines
from server.core.models import Enrollment
from server.core.timeutil import utcnow

BOSS = Actor("bench", "supervisor")




def bench(url: str, instance: Path, records: int, stock: int, prints: int) -> list[tuple[str, str]]:
    """Every figure of one backend as (what, value) rows."""
    database = Database("bench", url, instance)
    app = setup(database)
    fill([database], records + 1000, records)
    rows: list[tuple[str, str]] = []
    with app.app_context():
        ids = list(db.session.execute(
            select(Enrollment.id).order_by(Enrollment.received_at, Enrollment.id)).scalars())
        start = utcnow() - dt.timedelta(days=60)
        step = dt.timedelta(days=60) / max(records, 1)
        for index in range(0, len(ids), 2000):  # approvals spread over two months
            for offset, record_id in enumerate(ids[index:index + 2000]):
                db.session.execute(update(Enrollment).where(Enrollment.id == record_id).values(
                    state="approved", state_changed_at=start + step * (index + offset)))
        db.session.commit()
        if db.engine.dialect.name == "postgresql":
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM ANALYZE"))
        blanko.receive(stock, "470/1234/DUKCAPIL", actor=BOSS)
        for record_id in ids[:20]:
            printing.set_priority(record_id, "lansia", actor=BOSS)
        rows.append(("approved records in the queue", f"{records:,}"))
        rows.append(("queue, first page of 50", f"{median_ms(printing.queue):.1f} ms"))
        kec = printing.Filters(kecamatan="61.09.04")
        rows.append(("queue, one kecamatan",
                     f"{median_ms(lambda: printing.queue(kec)):.1f} ms"))
        old = printing.Filters(age_min=60)
        rows.append(("queue, age >= 60", f"{median_ms(lambda: printing.queue(old)):.1f} ms"))
        pri = printing.Filters(priority_only=True)
        rows.append(("queue, priority only",
                     f"{median_ms(lambda: printing.queue(pri)):.1f} ms"))
        # Keyset paging: a page deep in the queue costs what the first does; take the cursor
        # of the page that starts at the queue's middle.
        after = None
        for _ in range(records // 2 // 50):
            after = printing.queue(after=after).next_after
        rows.append(("queue, a page half-way down",
                     f"{median_ms(lambda: printing.queue(after=after)):.1f} ms"))
        times = []
        for record_id in ids[:prints]:
            started = time.perf_counter()
            job = printing.print_card(record_id, actor=BOSS)
            times.append((time.perf_counter() - started) * 1000)
        times.sort()
        rows.append((f"print_card x {prints} (median / p95)",
                     f"{statistics.median(times):.1f} / {times[int(len(times) * .95)]:.1f} ms"))
        rows.append(("cards per second, one operator", f"{1000 / statistics.mean(times):.0f}"))
        started = time.perf_counter()
        printing.spoil_and_reprint(job.id, "foto bergaris", actor=BOSS)
        rows.append(("misprint + reprint", f"{(time.perf_counter() - started) * 1000:.1f} ms"))
        rows.append(("forecast (30 days)", f"{median_ms(blanko.forecast):.1f} ms"))
        rows.append(("daily summary, today", f"{median_ms(blanko.daily_summary):.1f} ms"))
        yesterday = blanko.office_today() - dt.timedelta(days=1)
        rows.append(("daily summary, yesterday (queue from audit)",
                     f"{median_ms(lambda: blanko.daily_summary(yesterday)):.1f} ms"))
        rows.append(("balance (no lock)", f"{median_ms(blanko.available):.2f} ms"))
        rows.append(("ledger balance after", f"{blanko.available():,}"))
    dispose_engines(app)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--stock", type=int, default=2_000)
    parser.add_argument("--prints", type=int, default=300)
    parser.add_argument("--postgresql", help="also run on this (scratch!) PostgreSQL database")
    args = parser.parse_args()
    results = on_databases(
        lambda url, folder: bench(url, folder, args.records, args.stock, args.prints),
        args.postgresql,
    )
    print(f"Machine: {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"{platform.system()}\n")
    names = [name for name, _ in results]
    print("| what | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    for index, (what, _) in enumerate(results[0][1]):
        print(f"| {what} | " + " | ".join(rows[index][1] for _, rows in results) + " |")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
