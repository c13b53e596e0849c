"""Field operators: who may log in to a team's field laptop, with an eight-digit PIN."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Index, String, true
from sqlalchemy.orm import Mapped, mapped_column

from server.core.models.base import Base
from server.core.timeutil import utcnow


class Operator(Base):
    """A field operator of one team. The PIN is kept by nobody: only the key it derives
    (``shared.pin``, Argon2id with ``pin_salt``), sealed to the office key, so the office can
    wrap a device's data key for this operator; see ``server/accounts/operators.py``.

    An operator without a PIN key (made before PINs wrapped keys) cannot log in anywhere until
    the office gives a new PIN (``jemput-server operator-pin``).
    """

    __tablename__ = "operator"
    __table_args__ = (Index("ix_operator_team", "team"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Lower case, the record's ``operator`` field (shared.schemas.OPERATOR).
    username: Mapped[str] = mapped_column(String(64), unique=True)
    nama: Mapped[str] = mapped_column(String(120))
    team: Mapped[str] = mapped_column(String(80))
    pin_salt: Mapped[str | None] = mapped_column(String(64))  # base64
    pin_key_kid: Mapped[str | None] = mapped_column(String(64))  # the office key it is sealed to
    pin_key_sealed: Mapped[str | None] = mapped_column(String(200))  # base64
    kdf_opslimit: Mapped[int | None]
    kdf_memlimit: Mapped[int | None] = mapped_column(BigInteger)
    active: Mapped[bool] = mapped_column(default=True, server_default=true())
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    pin_changed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
