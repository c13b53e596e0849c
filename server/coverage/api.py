"""Coverage as JSON (or CSV) for office users' scripts (office API)."""

from __future__ import annotations

from typing import Any

from flask import request

from server.accounts.office_auth import office_api_blueprint, user_required
from server.core.errors import InvalidInput
from server.core.serialize import jsonable
from server.coverage import figures, query

bp = office_api_blueprint("coverage_api", __name__)


@bp.get("/coverage")
@user_required
def get_coverage() -> Any:
    """Coverage at ``?at=`` under ``?region=``, with ``?trend_days=`` of arrivals; CSV too."""
    report = query.requested_report(request.args)
    if request.args.get("format") == "csv":
        return query.csv_export(report)
    days = _trend_days(request.args.get("trend_days"))
    computed = report.computed
    return {"at": report.at.isoformat(), "region": report.region,
            "computed_at": None if computed is None else jsonable(computed.computed_at),
            "stale": bool(computed and computed.behind),
            "rows": [row.as_dict() for row in report.rows],
            "trend": jsonable(figures.trend(days, report.region))}


def _trend_days(value: str | None) -> int:
    if value is None or value == "":
        return figures.DEFAULT_TREND_DAYS
    if not (value.isascii() and value.isdigit() and len(value) <= 4):
        raise InvalidInput("'trend_days' harus bilangan bulat 1 sampai "
                           f"{figures.MAX_TREND_DAYS}.", errors={"trend_days": ["bukan angka"]})
    return int(value)
