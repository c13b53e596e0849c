"""The review queue and the records list as both the office pages and the office API serve
them: filters and a page from the query string, or every row as CSV (``?format=csv``)."""

from __future__ import annotations

from collections.abc import Mapping

from werkzeug.wrappers import Response

from server.http.present import csv_response
from server.review import queue


def wants_csv(args: Mapping[str, str]) -> bool:
    """Whether the query string asks for the CSV export."""
    return args.get("format") == "csv"


def case_page(args: Mapping[str, str]) -> tuple[queue.Filters, queue.Page]:
    """The filters and the page of cases (open ones by default) the query string asks for."""
    filters = queue.Filters.from_args(args)
    return filters, queue.cases(filters, args.get("after"), queue.page_size(args.get("limit")),
                                total=True)


def cases_csv(args: Mapping[str, str]) -> Response:
    """Every case the query string's filters select, as ``kasus.csv``."""
    filters = queue.Filters.from_args(args)
    return csv_response(queue.all_cases(filters), queue.CASE_COLUMNS, "kasus.csv")


def record_page(args: Mapping[str, str]) -> tuple[queue.Filters, queue.Page]:
    """The filters and the page of records the query string asks for."""
    filters = queue.Filters.from_args(args)
    return filters, queue.records(filters, args.get("after"),
                                  queue.page_size(args.get("limit")), total=True)


def records_csv(args: Mapping[str, str]) -> Response:
    """Every record the query string's filters select, as ``rekaman.csv``."""
    filters = queue.Filters.from_args(args)
    return csv_response(queue.all_records(filters), queue.RECORD_COLUMNS, "rekaman.csv")
