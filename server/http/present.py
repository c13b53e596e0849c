"""Shared by the office pages and the office JSON API: CSV exports and biometric files."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, BinaryIO

from flask import Response, send_file, stream_with_context

from server.core.serialize import jsonable


def _cell(value: Any) -> str:
    text = "" if value is None else str(jsonable(value))
    # A cell starting like a formula would run in a spreadsheet (CSV injection).
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def csv_response(rows: Iterable[Mapping[str, Any]], columns: Sequence[str],
                 filename: str) -> Response:
    """Stream ``rows`` as a UTF-8 CSV download (BOM first, so spreadsheets read it right)."""

    def generate() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(columns)
        yield "\ufeff" + buffer.getvalue()
        for row in rows:
            buffer.seek(0)
            buffer.truncate()
            writer.writerow([_cell(row.get(column)) for column in columns])
            yield buffer.getvalue()

    response = Response(stream_with_context(generate()), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def file_response(stream: BinaryIO, media_type: str) -> Response:
    """A biometric file: never cached, never sniffed into another type."""
    response = send_file(stream, mimetype=media_type, max_age=0)
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
