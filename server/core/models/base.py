"""The declarative base: one metadata with a naming convention Alembic can rely on."""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from sqlalchemy import JSON, MetaData, Table
from sqlalchemy.orm import DeclarativeBase, registry

from server.core.models.types import UTCDateTime

# Named constraints keep migrations reproducible and let SQLite batch mode find them.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Root of every model."""

    # An explicit registry: Flask-SQLAlchemy copies the base, and SQLAlchemy then insists
    # that the type map live on the registry rather than on the class.
    registry = registry(
        metadata=MetaData(naming_convention=NAMING_CONVENTION),
        type_annotation_map={
            dt.datetime: UTCDateTime(),
            dict[str, Any]: JSON(),
            list[Any]: JSON(),
        },
    )


def table_of(model: type[Base]) -> Table:
    """The Core table of a model, typed as such (for bulk inserts and updates)."""
    return cast(Table, model.__table__)
