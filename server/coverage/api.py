"""Coverage as JSON for office users (routes on the office API blueprint)."""

from __future__ import annotations

from typing import Any

from flask import request

from server.accounts.office_auth import office_api_blueprint, user_required
from server.core.errors import InvalidInput
from server.coverage import figures
from server.http.present import csv_response, jsonable

bp = office_api_blueprint("coverage_api", __name__)

DEFAULT_TREND_DAYS = 30


@bp.get("/coverage")
@user_required
def get_coverage() -> Any:
    """Coverage at ``?at=`` under ``?region=``, with ``?trend_days=`` of arrivals; CSV too."""
    at = figures.reference_date(request.args.get("at"))
    report = figures.report(at, request.args.get("region"))
    if request.args.get("format") == "csv":
        return csv_response(figures.csv_rows(report), figures.CSV_COLUMNS,
                            f"cakupan-{at.isoformat()}.csv")
    days = _trend_days(request.args.get("trend_days"))
    return {"at": at.isoformat(), "region": report.region,
            "rows": [row.as_dict() for row in report.rows],
            "trend": jsonable(figures.trend(days, report.region))}


def _trend_days(value: str | None) -> int:
    if value is None or value == "":
        return DEFAULT_TREND_DAYS
    if not (value.isascii() and value.isdigit() and len(value) <= 4):
        raise InvalidInput("'trend_days' harus bilangan bulat 1 sampai "
                           f"{figures.MAX_TREND_DAYS}.", errors={"trend_days": ["bukan angka"]})
    return int(value)
