"""What every office template may use: the one vocabulary of ``shared.labels``, and numbers,
dates and times as the office reads them (times in the office's own zone)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Flask

from server.core.timeutil import office_date, office_time
from shared import labels
from shared.display import format_decimal, format_number, format_percent


def card_value(name: str, value: Any) -> str:
    """A card field's value as a person reads it: dates ``07-12-1973``, nothing ``—``."""
    if value is None or value == "":
        return "—"
    if name == "tanggal_lahir" and isinstance(value, str):
        try:
            return office_date(dt.date.fromisoformat(value))
        except ValueError:
            return value
    return str(value)


def init_app(app: Flask) -> None:
    """The label tables and helpers as globals; the filters ``angka``, ``persen``, ``desimal``,
    ``waktu`` (``29-11-2026 14:05 WIB``) and ``tanggal`` (``29-11-2026``)."""
    app.jinja_env.globals.update(
        STATE_LABELS=labels.STATE_LABELS, KIND_LABELS=labels.KIND_LABELS,
        RESOLUTION_LABELS=labels.RESOLUTION_LABELS, FIELD_LABELS=labels.FIELD_LABELS,
        ROLE_LABELS=labels.ROLE_LABELS, REASON_LABELS=labels.REASON_LABELS,
        USER_ROLE_LABELS=labels.USER_ROLE_LABELS, VISIT_STATE_LABELS=labels.VISIT_STATE_LABELS,
        SUKET_STATUS_LABELS=labels.SUKET_STATUS_LABELS,
        BLANKO_KIND_LABELS=labels.BLANKO_KIND_LABELS, PRINT_JOB_LABELS=labels.PRINT_JOB_LABELS,
        ACTION_LABELS=labels.ACTION_LABELS, actor_label=labels.actor_label,
        JOB_KIND_LABELS=labels.JOB_KIND_LABELS, JOB_STATE_LABELS=labels.JOB_STATE_LABELS,
        audit_state_label=labels.audit_state_label,
        card_value=card_value,
    )
    app.jinja_env.filters.update(angka=format_number, persen=format_percent,
                                 desimal=format_decimal, waktu=office_time, tanggal=office_date)
