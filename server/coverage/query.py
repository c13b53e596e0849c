"""What the coverage page and the coverage API read from the query string (``?at=`` and
``?region=``), and the CSV both export."""

from __future__ import annotations

from collections.abc import Mapping

from werkzeug.wrappers import Response

from server.coverage import figures
from server.http.present import csv_response


def requested_report(args: Mapping[str, str], *, wide: bool = False) -> figures.CoverageReport:
    """Coverage at ``?at=`` (default: today, WIB) under ``?region=`` (default: everything);
    ``wide``: the page's view of several kabupaten, without their desa."""
    return figures.report(figures.reference_date(args.get("at")), args.get("region"),
                          wide=wide)


def csv_export(report: figures.CoverageReport) -> Response:
    """The report's table as ``cakupan-<date>.csv`` (plain numbers)."""
    return csv_response(figures.csv_rows(report), figures.CSV_COLUMNS,
                        f"cakupan-{report.at.isoformat()}.csv")
