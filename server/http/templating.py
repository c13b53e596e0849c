"""What every office template may use: the labels, numbers and times as Indonesians read them."""

from __future__ import annotations

import datetime as dt

from flask import Flask

from server.core.timeutil import WIB
from shared.display import format_decimal, format_number, format_percent
from shared.labels import KIND_LABELS, RESOLUTION_LABELS, STATE_LABELS


def wib(value: dt.datetime | None) -> str:
    """A stored UTC time as the office reads it (``29-11-2026 14:05 WIB``)."""
    if value is None:
        return "—"
    return f"{value.astimezone(WIB):%d-%m-%Y %H:%M} WIB"


def init_app(app: Flask) -> None:
    """The labels as globals; the filters ``angka``, ``persen``, ``desimal`` and ``wib``."""
    app.jinja_env.globals.update(STATE_LABELS=STATE_LABELS, KIND_LABELS=KIND_LABELS,
                                 RESOLUTION_LABELS=RESOLUTION_LABELS)
    app.jinja_env.filters.update(angka=format_number, persen=format_percent, desimal=format_decimal,
                                 wib=wib)
