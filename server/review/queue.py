"""The review queue and the records list: filtered, keyset-paginated, exportable."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, select, text

from server.core.errors import InvalidInput, NotFound
from server.core.extensions import db
from server.core.models import Attachment, Case, CaseRecord, Device, Enrollment, Region
from server.core.models.case import OPEN, RESOLVED
from shared.protocol import CaseKind, ServerState

PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
EXPORT_CHUNK = 2000
KINDS = tuple(kind.value for kind in CaseKind)
STATES = tuple(state.value for state in ServerState)
#: The columns of the CSV exports of cases and records.
CASE_COLUMNS = ("id", "kind", "state", "explanation", "desa_kode", "desa_nama", "team",
                "device_id", "opened_at", "resolved_at", "resolved_by", "resolution", "version")
RECORD_COLUMNS = ("id", "nik", "nama", "desa_kode", "desa_nama", "state", "state_reason",
                  "team", "device_id", "seq", "captured_at", "received_at")


@dataclass(frozen=True)
class Filters:
    """What the office narrowed a list to; empty strings mean "any"."""

    kecamatan: str = ""
    desa: str = ""
    kind: str = ""
    team: str = ""
    state: str = ""

    @classmethod
    def from_args(cls, args: Any) -> Filters:
        """Filters from query-string arguments, checked."""
        found = cls(**{name: (args.get(name) or "").strip()
                       for name in ("kecamatan", "desa", "kind", "team", "state")})
        if found.kind and found.kind not in KINDS:
            raise InvalidInput(f"Jenis kasus '{found.kind}' tidak dikenal.")
        return found

    def as_args(self) -> dict[str, str]:
        """The non-empty filters, for building links."""
        return {key: value for key, value in vars(self).items() if value}


@dataclass(frozen=True)
class Page:
    """One page of a list and the cursor of the next page (None on the last)."""

    items: list[dict[str, Any]]
    next_after: str | None
    total: int | None = None  # every item the filters select, when it was asked for
    #: ``total`` is PostgreSQL's estimate (the unfiltered records list: see :func:`_estimate`).
    estimated: bool = False


def page_size(raw: str | None) -> int:
    """A requested page size, bounded."""
    if not raw:
        return PAGE_SIZE
    size = _number(raw)
    if size is None or not 1 <= size <= MAX_PAGE_SIZE:
        raise InvalidInput(f"limit harus angka 1-{MAX_PAGE_SIZE}.")
    return size


def _number(raw: str) -> int | None:
    """A plain decimal number of at most 12 ASCII digits (not '²', not 10**30), else None."""
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 12 else None


def _area(query: Any, desa_column: Any, filters: Filters) -> Any:
    if filters.desa:
        query = query.where(desa_column == filters.desa)
    elif filters.kecamatan:
        # A range, not LIKE: SQLite uses the desa index for it ("." < "/" in ASCII).
        query = query.where(desa_column >= filters.kecamatan + ".",
                            desa_column < filters.kecamatan + "/")
    return query


def _cases_query(filters: Filters) -> Select[Any]:
    state = filters.state or OPEN
    if state not in (OPEN, RESOLVED):
        raise InvalidInput("Status kasus harus 'open' atau 'resolved'.")
    query = (select(Case.id, Case.kind, Case.state, Case.explanation, Case.desa_kode,
                    Region.nama.label("desa_nama"), Case.team, Case.device_id, Case.opened_at,
                    Case.resolved_at, Case.resolved_by, Case.resolution, Case.version)
             .join(Region, Region.kode == Case.desa_kode, isouter=True)
             .where(Case.state == state))
    if filters.kind:
        query = query.where(Case.kind == filters.kind)
    if filters.team:
        query = query.where(Case.team == filters.team)
    return _area(query, Case.desa_kode, filters)


def cases(filters: Filters, after: str | None = None, limit: int = PAGE_SIZE,
          total: bool = False) -> Page:
    """A page of cases (oldest first), after case id ``after``; with ``total``, their count."""
    query = _cases_query(filters)
    counted = _count(query) if total else None
    if after:
        after_id = _number(after)
        if after_id is None:
            raise InvalidInput("Kursor halaman tidak valid.")
        query = query.where(Case.id > after_id)
    rows = db.session.execute(query.order_by(Case.id).limit(limit + 1)).mappings().all()
    db.session.commit()
    items = [dict(row) for row in rows[:limit]]
    return Page(items, str(items[-1]["id"]) if len(rows) > limit else None, counted)


def all_cases(filters: Filters) -> Iterator[dict[str, Any]]:
    """Every case matching ``filters``, in chunks (for CSV export)."""
    _cases_query(filters)  # bad filters are refused now, before a CSV's first byte is sent
    return _every(lambda after: cases(filters, after, EXPORT_CHUNK))


def _every(fetch: Callable[[str | None], Page]) -> Iterator[dict[str, Any]]:
    """Every item of a keyset-paginated list, page by page."""
    after: str | None = None
    while True:
        page = fetch(after)
        yield from page.items
        if page.next_after is None:
            return
        after = page.next_after


def _records_query(filters: Filters) -> Select[Any]:
    query = (select(Enrollment.id, Enrollment.nik, Enrollment.payload["nama"].as_string()
                    .label("nama"), Enrollment.desa_kode, Region.nama.label("desa_nama"),
                    Enrollment.state, Enrollment.state_reason, Device.team,
                    Enrollment.device_id, Enrollment.seq, Enrollment.captured_at,
                    Enrollment.received_at)
             .join(Device, Device.id == Enrollment.device_id)
             .join(Region, Region.kode == Enrollment.desa_kode, isouter=True))
    if filters.state:
        if filters.state not in STATES:
            raise InvalidInput(f"Status rekaman '{filters.state}' tidak dikenal.")
        query = query.where(Enrollment.state == filters.state)
    if filters.team:
        query = query.where(Device.team == filters.team)
    return _area(query, Enrollment.desa_kode, filters)


def records(filters: Filters, after: str | None = None, limit: int = PAGE_SIZE,
            total: bool = False) -> Page:
    """A page of records ordered by id, after record id ``after``; with ``total``, their count."""
    query = _records_query(filters)
    counted, estimated = _record_total(filters) if total else (None, False)
    if after:
        query = query.where(Enrollment.id > after)
    rows = db.session.execute(query.order_by(Enrollment.id).limit(limit + 1)).mappings().all()
    db.session.commit()
    items = [dict(row) for row in rows[:limit]]
    return Page(items, items[-1]["id"] if len(rows) > limit else None, counted, estimated)


def _record_total(filters: Filters) -> tuple[int, bool]:
    """How many records ``filters`` select, and whether that is an estimate.

    Counted on ``enrollment`` alone (its indexes answer; the page's joins add no rows: every
    record has its device, the region is an outer join). On PostgreSQL the unfiltered list and
    a list of one large state (``ESTIMATE_FROM`` records or more) show the planner's estimate
    instead: an exact count of hundreds of thousands of rows costs more than the page.
    """
    area = filters.desa or filters.kecamatan
    if not (filters.team or area):
        estimate = (state_estimates().get(filters.state, 0) if filters.state
                    else table_estimate(Enrollment.__tablename__))
        if estimate >= ESTIMATE_FROM:
            return estimate, True
    query = select(func.count()).select_from(Enrollment)
    if filters.state:
        query = query.where(Enrollment.state == filters.state)
    if filters.team:
        query = query.where(Enrollment.device_id.in_(
            select(Device.id).where(Device.team == filters.team)))
    query = _area(query, Enrollment.desa_kode, filters)
    return int(db.session.execute(query).scalar_one()), False


#: From this many rows (by the planner's statistics) a list's total is PostgreSQL's estimate.
ESTIMATE_FROM = 50_000
#: Rows in a table now, as the planner reckons: rows per page at the last ANALYZE times pages.
_ROWS_NOW = ("c.reltuples / c.relpages * (pg_relation_size(c.oid) / "
             "current_setting('block_size')::int)")


def table_estimate(table: str) -> int:
    """PostgreSQL's estimate of the rows in ``table`` now; 0 on SQLite or before any ANALYZE
    (the caller then counts)."""
    if db.session.get_bind().dialect.name != "postgresql":
        return 0
    found = db.session.execute(text(
        f"SELECT {_ROWS_NOW} FROM pg_class c "
        "WHERE c.oid = CAST(:table AS regclass) AND c.relpages > 0 AND c.reltuples > 0"),
        {"table": table}).scalar()
    return int(found or 0)


def state_estimates() -> dict[str, int]:
    """PostgreSQL's estimate of the records per state (the column statistics' frequencies times
    the table's estimated rows); empty on SQLite or without statistics yet. The coverage
    refresh analyses ``enrollment``, so these are about as fresh as its figures."""
    if db.session.get_bind().dialect.name != "postgresql":
        return {}
    row = db.session.execute(text(
        f"SELECT s.most_common_vals::text::text[], s.most_common_freqs, {_ROWS_NOW} "
        "FROM pg_stats s JOIN pg_class c ON c.oid = CAST(s.tablename AS regclass) "
        "WHERE s.schemaname = current_schema() AND s.tablename = 'enrollment' "
        "AND s.attname = 'state' AND c.relpages > 0")).first()
    if row is None or row[0] is None:
        return {}
    values, freqs, total = row
    return {value: int(freq * total) for value, freq in zip(values, freqs, strict=True)}


def _count(query: Select[Any]) -> int:
    """How many rows ``query`` selects."""
    return int(db.session.execute(
        select(func.count()).select_from(query.order_by(None).subquery())).scalar_one())


def all_records(filters: Filters) -> Iterator[dict[str, Any]]:
    """Every record matching ``filters``, in chunks (for CSV export)."""
    _records_query(filters)  # bad filters are refused now, before a CSV's first byte is sent
    return _every(lambda after: records(filters, after, EXPORT_CHUNK))


def case_number(raw: str) -> int:
    """A case id from a URL; :class:`NotFound` when it is not one."""
    number = _number(raw)
    if number is None:
        raise NotFound(f"Kasus {raw[:20]} tidak ditemukan.")
    return number


@dataclass(frozen=True)
class CaseView:
    """A case and the records it names, in order."""

    case: dict[str, Any]
    records: list[dict[str, Any]]
    #: Card fields whose values are not the same in every record (highlighted side by side).
    differing: frozenset[str]


def case_view(case_id: int) -> CaseView:
    """One case with its records side by side; :class:`NotFound` when unknown."""
    found = db.session.get(Case, case_id)
    if found is None:
        db.session.commit()
        raise NotFound(f"Kasus {case_id} tidak ditemukan.")
    case = {column: getattr(found, column) for column in (
        "id", "kind", "state", "explanation", "desa_kode", "team", "device_id", "opened_at",
        "resolved_at", "resolved_by", "resolution", "resolution_reason", "version")}
    region = db.session.get(Region, found.desa_kode) if found.desa_kode else None
    case["desa_nama"] = region.nama if region else None
    named = db.session.execute(
        select(Enrollment, Device.team, Device.name.label("device_name"))
        .join(CaseRecord, CaseRecord.enrollment_id == Enrollment.id)
        .join(Device, Device.id == Enrollment.device_id)
        .where(CaseRecord.case_id == case_id).order_by(CaseRecord.position, Enrollment.id)
    ).all()
    shown = [_record_summary(enrollment, team, device_name)
             for enrollment, team, device_name in named]
    db.session.commit()
    fields = {name for r in shown for name in r["payload"]}
    differing = frozenset(name for name in fields
                          if len({str(r["payload"].get(name)) for r in shown}) > 1)
    return CaseView(case, shown, differing)


def _record_summary(record: Enrollment, team: str, device_name: str) -> dict[str, Any]:
    return {"id": record.id, "state": record.state, "state_reason": record.state_reason,
            "team": team, "device_name": device_name, "device_id": record.device_id,
            "seq": record.seq, "captured_at": record.captured_at,
            "received_at": record.received_at, "operator": record.operator,
            "supersedes": record.supersedes, "payload": record.payload,
            "roles": _roles(record.id)}


def _roles(record_id: str) -> list[str]:
    return list(db.session.execute(
        select(Attachment.role).where(Attachment.enrollment_id == record_id)
        .order_by(Attachment.role)).scalars())


def when(value: dt.datetime | None) -> str:
    """A timestamp as the office reads it (UTC)."""
    return "" if value is None else value.strftime("%Y-%m-%d %H:%M UTC")
