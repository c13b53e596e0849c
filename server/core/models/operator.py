"""Field operators: who may log in to a team's field laptop, with a six-digit PIN."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Index, String, true
from sqlalchemy.orm import Mapped, mapped_column

from server.core.models.base import Base
from server.core.timeutil import utcnow


class Operator(Base):
    """A field operator of one team; the PIN is stored only as a ``shared.pin`` hash.

    The hash is sent to the team's devices (the operator logs in offline there), which is why
    it is a slow one; see ``server/accounts/operators.py``.
    """

    __tablename__ = "operator"
    __table_args__ = (Index("ix_operator_team", "team"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Lower case, the record's ``operator`` field (shared.schemas.OPERATOR).
    username: Mapped[str] = mapped_column(String(64), unique=True)
    nama: Mapped[str] = mapped_column(String(120))
    team: Mapped[str] = mapped_column(String(80))
    pin_hash: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(default=True, server_default=true())
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    pin_changed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
