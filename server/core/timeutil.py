"""Time helpers: the server stores and speaks UTC (JSON and CSV in ISO 8601); a person reads the
office's own time zone (``JEMPUT_OFFICE_TIMEZONE``, Asia/Pontianak = WIB for Kalimantan Barat;
WITA and WIT offices set theirs), and the office's calendar day is a day in that zone."""

from __future__ import annotations

import datetime as dt
from functools import cache
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context

#: Kalimantan Barat's zone (WIB, UTC+7), unless the office configures another.
DEFAULT_OFFICE_TIMEZONE = "Asia/Pontianak"


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


@cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def office_zone() -> ZoneInfo:
    """The office's time zone: the app's ``JEMPUT_OFFICE_TIMEZONE``, else Asia/Pontianak."""
    name = DEFAULT_OFFICE_TIMEZONE
    if has_app_context():
        name = current_app.config.get("JEMPUT_OFFICE_TIMEZONE") or DEFAULT_OFFICE_TIMEZONE
    return _zone(name)


def office_today(now: dt.datetime | None = None) -> dt.date:
    """Today (or ``now``'s day) in the office's zone: the day the office books things on."""
    return (now or utcnow()).astimezone(office_zone()).date()


def office_day_start(day: dt.date) -> dt.datetime:
    """The first instant of an office day (midnight in the office's zone)."""
    return dt.datetime.combine(day, dt.time(), office_zone())


def office_time(value: dt.datetime | None) -> str:
    """A stored time as the office reads it: ``29-11-2026 14:05 WIB``; none: ``—``."""
    if value is None:
        return "—"
    local = as_utc(value).astimezone(office_zone())
    return f"{local:%d-%m-%Y %H:%M} {local.tzname()}"


def office_date(value: dt.date | None) -> str:
    """A date as the office reads it: ``29-11-2026``; none: ``—``."""
    return "—" if value is None else f"{value:%d-%m-%Y}"
