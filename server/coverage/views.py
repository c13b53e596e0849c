"""Office pages for coverage: who is recorded, per kecamatan and desa (routes on ``auth.bp``)."""

from __future__ import annotations

from flask import render_template, request
from werkzeug.wrappers import Response

from server.accounts.office_auth import login_required, office_blueprint
from server.coverage import figures as coverage
from server.http.present import csv_response

bp = office_blueprint("coverage", __name__)

TREND_DAYS = 30


@bp.get("/coverage")
@login_required
def coverage_page() -> str:
    """Coverage at ``?at=`` (default today) under ``?region=``: tiles, bars, trend, table."""
    at = coverage.reference_date(request.args.get("at"))
    report = coverage.report(at, request.args.get("region"))
    trend = coverage.trend(TREND_DAYS, report.region)
    return render_template("coverage/coverage.html", report=report, trend=trend,
                           trend_max=max([day.records for day in trend] + [1]))


@bp.get("/coverage.csv")
@login_required
def coverage_csv() -> Response:
    """The coverage table as CSV (same ``?at=`` and ``?region=``)."""
    at = coverage.reference_date(request.args.get("at"))
    report = coverage.report(at, request.args.get("region"))
    return csv_response(coverage.csv_rows(report), coverage.CSV_COLUMNS,
                        f"cakupan-{at.isoformat()}.csv")
