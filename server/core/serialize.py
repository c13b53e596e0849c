"""Plain JSON values from what the services return, for the office API, exports and the CLI."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from typing import Any

from server.core.timeutil import isoformat_z


def jsonable(value: Any) -> Any:
    """``value`` with datetimes as ISO 8601 UTC and dataclasses as dicts, recursively."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    if isinstance(value, dt.datetime):
        return isoformat_z(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value
