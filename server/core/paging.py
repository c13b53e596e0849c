"""Keyset paging for the office's long lists: the page after a cursor, never an OFFSET.

A cursor is the sort key of the last row shown, as text (``a|b|c``); the next page holds the
rows whose key comes after it in the list's order. A cursor that is not one of ours is a 400,
and every limit is bounded before it reaches SQL.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, and_, or_

from server.core.errors import InvalidInput

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
SEPARATOR = "|"


def limit_of(value: Any, default: int = DEFAULT_LIMIT) -> int:
    """A page size: ``value`` (text or number, blank for the default) within 1..MAX_LIMIT."""
    if value is None or value == "":
        return default
    text = str(value).strip()
    if not (text.isascii() and text.isdigit() and len(text) <= 4
            and 1 <= int(text) <= MAX_LIMIT):
        raise InvalidInput(f"Jumlah per halaman harus 1 sampai {MAX_LIMIT}.",
                           errors={"limit": [f"1..{MAX_LIMIT}"]})
    return int(text)


def cursor(*parts: Any) -> str:
    """The cursor of a row from its sort key (datetimes as ISO 8601)."""
    return SEPARATOR.join(p.isoformat() if isinstance(p, dt.datetime | dt.date) else str(p)
                          for p in parts)


def parse_cursor(text: str | None, kinds: Sequence[type]) -> list[Any] | None:
    """The sort key in a cursor, each part of its kind (int, str, datetime); None for none."""
    if text is None or text == "":
        return None
    parts = text.split(SEPARATOR)
    if len(text) > 200 or len(parts) != len(kinds):
        raise _bad_cursor()
    values: list[Any] = []
    for part, kind in zip(parts, kinds, strict=True):
        try:
            if kind is int:
                if not (part.isascii() and part.lstrip("-").isdigit() and len(part) <= 18):
                    raise ValueError(part)
                values.append(int(part))
            elif kind is dt.datetime:
                values.append(dt.datetime.fromisoformat(part))
            else:
                values.append(part)
        except ValueError:
            raise _bad_cursor() from None
    return values


def after(columns: Sequence[Any], key: Sequence[Any],
          descending: Sequence[bool] | None = None) -> ColumnElement[bool]:
    """Rows whose ``columns`` come after ``key`` in the list's order (lexicographic)."""
    descending = descending or [False] * len(columns)
    clause: ColumnElement[bool] | None = None
    for column, value, down in reversed(list(zip(columns, key, descending, strict=True))):
        beyond = column < value if down else column > value
        clause = beyond if clause is None else or_(beyond, and_(column == value, clause))
    assert clause is not None
    return clause


def _bad_cursor() -> InvalidInput:
    return InvalidInput("Kursor halaman tidak valid.", errors={"after": ["tidak dikenal"]})
