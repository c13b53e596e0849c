"""Bulk inserts straight to the database driver, for the hot path of a push and the checks."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, Dialect, Table, any_, bindparam, insert
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import DBAPIError

from server.core.extensions import db

#: Values of one IN list on SQLite (under its limit on bound parameters).
IN_CHUNK = 2000
#: From this many rows on, :func:`copy_rows` streams them with ``COPY`` on PostgreSQL.
COPY_FROM = 200


@dataclass(frozen=True)
class _Statement:
    sql: str
    positional: bool
    # Each column type's own bind processor (None when the driver takes the value as is).
    processors: tuple[Callable[[Any], Any] | None, ...]


_statements: dict[tuple[str, str, tuple[str, ...]], _Statement] = {}


def insert_rows(table: Table, columns: tuple[str, ...], rows: Sequence[tuple[Any, ...]]) -> None:
    """INSERT ``rows`` (tuples in ``columns`` order) with one driver-level executemany.

    SQLAlchemy's generic per-row parameter handling is most of the cost of a push's ~15,000
    rows; this applies the very same column type conversions (bind processors), once per
    value, and hands the rows to the driver's executemany.
    """
    if not rows:
        return
    connection = db.session.connection()
    statement = _statement(connection.dialect, table, columns)
    converting = [(i, _reusing(p)) for i, p in enumerate(statement.processors) if p is not None]
    if converting:
        rows = [_converted(row, converting) for row in rows]
    params: Sequence[Any] = (
        rows if statement.positional else [dict(zip(columns, row, strict=True)) for row in rows]
    )
    connection.exec_driver_sql(statement.sql, params)


def copy_rows(table: Table, columns: tuple[str, ...], rows: Sequence[tuple[Any, ...]]) -> None:
    """:func:`insert_rows`, streamed as one ``COPY ... FROM STDIN`` on PostgreSQL.

    An executemany sends one INSERT per row even in pipeline mode (130,000 audit events of a
    first check run: ~18 s); COPY sends the rows as one stream. Same column conversions, same
    transaction; a failure is raised as SQLAlchemy's error (``IntegrityError`` and so on), as
    an INSERT's would be. On SQLite, and for a few rows, it is :func:`insert_rows`.
    """
    connection = db.session.connection()
    if connection.dialect.name != "postgresql" or len(rows) < COPY_FROM:
        insert_rows(table, columns, rows)
        return
    statement = _statement(connection.dialect, table, columns)
    converting = [(i, _reusing(p)) for i, p in enumerate(statement.processors) if p is not None]
    names = ", ".join(connection.dialect.identifier_preparer.quote(name) for name in columns)
    sql = f"COPY {connection.dialect.identifier_preparer.format_table(table)} ({names}) " \
          "FROM STDIN"
    _copy(connection, sql, rows, converting)


def _copy(connection: Connection, sql: str, rows: Sequence[tuple[Any, ...]],
          converting: list[tuple[int, Callable[[Any], Any]]]) -> None:
    """Run ``sql`` (a COPY FROM STDIN) on the session's own driver connection."""
    driver = connection.connection.driver_connection
    assert driver is not None
    try:
        with driver.cursor() as cursor, cursor.copy(sql) as copy:
            for row in rows:
                copy.write_row(_converted(row, converting) if converting else row)
    except driver.Error as exc:
        raise DBAPIError.instance(sql, None, exc, type(driver).Error) from exc


def _reusing(processor: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``processor``, skipping the work when a value is the very object converted just before
    (a batch's rows share one timestamp and mostly ``None`` details)."""
    last: list[Any] = [object(), None]

    def convert(value: Any) -> Any:
        if value is not last[0]:
            last[0], last[1] = value, processor(value)
        return last[1]

    return convert


def _converted(row: tuple[Any, ...], converting: list[tuple[int, Callable[[Any], Any]]]) -> (
        tuple[Any, ...]):
    """``row`` with the columns that have a bind processor converted (the others as they are)."""
    values = list(row)
    for index, processor in converting:
        values[index] = processor(values[index])
    return tuple(values)


def _statement(dialect: Dialect, table: Table, columns: tuple[str, ...]) -> _Statement:
    """The INSERT for ``dialect``, compiled once per table and column list."""
    key = (dialect.name, table.name, columns)
    if key not in _statements:
        compiled = insert(table).compile(dialect=dialect, column_keys=list(columns))
        if compiled.positional and tuple(compiled.positiontup or ()) != columns:
            raise TypeError(f"unexpected parameter order for {table.name}")
        processors = tuple(table.c[name].type._cached_bind_processor(dialect) for name in columns)
        _statements[key] = _Statement(str(compiled), compiled.positional, processors)
    return _statements[key]


def among(column: Any, values: Sequence[Any], *, probes: bool = False) -> (
        Iterator[ColumnElement[bool]]):
    """``column IN values`` as the conditions of the statements to run, one per statement.

    PostgreSQL: one ``column = ANY(:array)`` with a single array parameter, whatever the
    count (an IN list of 2,000 bound parameters costs more to compile, convert and plan than
    to run). SQLite: IN lists of :data:`IN_CHUNK` values. Nothing for no values.

    ``probes``: the values are index look-ups of a few rows each, to stay index look-ups on
    PostgreSQL too: arrays of :data:`IN_CHUNK` values. One array of 14,000 file hashes is
    estimated at 14,000 rows, and with the default ``random_page_cost`` the planner reads the
    1.8 M-row attachment table whole instead (~450 ms against ~100 ms, issue 19).
    """
    if not values:
        return
    if db.session.get_bind().dialect.name == "postgresql":
        step = IN_CHUNK if probes else len(values)
        for start in range(0, len(values), step):
            chunk = list(values[start:start + step])
            yield column == any_(bindparam(None, chunk, type_=postgresql.ARRAY(column.type)))
        return
    for start in range(0, len(values), IN_CHUNK):
        yield column.in_(values[start:start + IN_CHUNK])
