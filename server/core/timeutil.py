"""Time helpers: the server stores and speaks UTC; the office's calendar day is WIB (UTC+7)."""

from __future__ import annotations

import datetime as dt

#: Western Indonesia Time, Sekadau's time zone: the office's days (dashboards, ledger, visits).
WIB = dt.timezone(dt.timedelta(hours=7))


def utcnow() -> dt.datetime:
    """The current time as an aware UTC datetime."""
    return dt.datetime.now(dt.UTC)


def as_utc(value: dt.datetime) -> dt.datetime:
    """``value`` as aware UTC; a naive value (as SQLite returns them) is taken to be UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


def isoformat_z(value: dt.datetime) -> str:
    """ISO 8601 in UTC with a ``Z`` suffix, e.g. ``2026-11-27T03:12:45.123456Z``."""
    return as_utc(value).isoformat().replace("+00:00", "Z")


def office_today(now: dt.datetime | None = None) -> dt.date:
    """Today (or ``now``'s day) in Sekadau, WIB: the day the office books things on."""
    return (now or utcnow()).astimezone(WIB).date()
