"""Office pages for coverage: who is recorded, per kecamatan and desa."""

from __future__ import annotations

from flask import render_template, request
from werkzeug.wrappers import Response

from server.accounts.office_auth import login_required, office_blueprint
from server.coverage import figures, query

bp = office_blueprint("coverage", __name__)


@bp.get("/coverage")
@login_required
def coverage_page() -> str:
    """Coverage at ``?at=`` (default today) under ``?region=``: tiles, bars, trend, table."""
    report = query.requested_report(request.args, wide=True)
    trend = figures.trend(figures.DEFAULT_TREND_DAYS, report.region)
    return render_template("coverage/coverage.html", report=report, trend=trend,
                           trend_max=max([day.records for day in trend] + [1]))


@bp.get("/coverage.csv")
@login_required
def coverage_csv() -> Response:
    """The coverage table as CSV (same ``?at=`` and ``?region=``)."""
    return query.csv_export(query.requested_report(request.args))
