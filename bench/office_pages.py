"""Office pages at scale: dashboard, review queue, records list, case and record pages.

Fills a temporary SQLite database like ``bench/reconcile.py`` (150,000 residents, 130,000
records by default), runs the checks once, then times each page through the real app (login,
template rendering included) and its service alone; prints the median of several requests.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import select

from bench.office import log_in
from bench.reconcile import Database, fill, setup
from bench.timing import median_ms
from server.accounts import users
from server.core.extensions import db, dispose_engines
from server.core.models import Case, CaseRecord
from server.review import checks, dashboard, queue

TARGET_MS = 300




def prepare(residents: int, records: int, folder: Path) -> tuple[Flask, Any, int, str]:
    """Fill the database, run the checks, log a reviewer in; (app, client, case, record)."""
    database = Database("SQLite", f"sqlite:///{folder / 'bench.db'}", folder)
    app = setup(database)
    fill([database], residents, records)
    with app.app_context():
        report = checks.run_checks()
        password = users.create_user("bench", "reviewer")
        case_id = db.session.execute(select(Case.id).where(Case.kind == "duplicate_nik")
                                     .limit(1)).scalar_one()
        record_id = db.session.execute(select(CaseRecord.enrollment_id)
                                       .where(CaseRecord.case_id == case_id)).scalar()
        assert record_id is not None
        db.session.commit()
    print(f"{residents:,} residents, {records:,} records, {report.cases_opened:,} cases opened",
          file=sys.stderr)
    return app, log_in(app, password), case_id, record_id


def report(app: Flask, client: Any, pages: list[tuple[str, str, Any]]) -> None:
    """Time each page's service and its HTTP request; print a Markdown table."""
    print(f"| page | service (ms) | HTTP page (ms) | target {TARGET_MS} ms |")
    print("|---|---:|---:|---|")
    for name, path, service in pages:
        with app.app_context():
            alone = median_ms(service) if service else float("nan")

        def get(path: str = path) -> None:
            answer = client.get(path)
            assert answer.status_code == 200, (path, answer.status_code)

        page = median_ms(get)
        verdict = "ok" if page < TARGET_MS else "MISSED"
        print(f"| {name} | {alone:.1f} | {page:.1f} | {verdict} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--residents", type=int, default=150_000)
    parser.add_argument("--records", type=int, default=130_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        app, client, case_id, record_id = prepare(args.residents, args.records, Path(scratch))
        report(app, client, [
            ("dashboard", "/office/", dashboard.dashboard),
            ("review queue, first page", "/office/cases",
             lambda: queue.cases(queue.Filters())),
            ("queue filtered (kind + kecamatan)",
             "/office/cases?kind=duplicate_nik&kecamatan=61.09.04",
             lambda: queue.cases(queue.Filters(kind="duplicate_nik", kecamatan="61.09.04"))),
            ("records, verified, first page", "/office/records?state=verified",
             lambda: queue.records(queue.Filters(state="verified"))),
            ("case page (duplicate)", f"/office/cases/{case_id}",
             lambda: queue.case_view(case_id)),
            ("record page", f"/office/records/{record_id}", None),
        ])
        dispose_engines(app)


if __name__ == "__main__":
    main()
