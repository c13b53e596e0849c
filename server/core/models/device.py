"""Field devices and the one-time codes that register them."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from server.core.models.base import Base
from server.core.timeutil import utcnow


class Device(Base):
    """A registered field laptop; its bearer token is stored only as a SHA-256 hash."""

    __tablename__ = "device"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    team: Mapped[str] = mapped_column(String(80))
    # The kecamatan the team was sent to (``61.09.04``); records from elsewhere are a finding.
    kecamatan_kode: Mapped[str | None] = mapped_column(String(8))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: The device's data key (``shared.datakey``), sealed to the office key ``data_key_kid``.
    data_key_kid: Mapped[str | None] = mapped_column(String(64))
    data_key_sealed: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[dt.datetime | None]
    last_seen_at: Mapped[dt.datetime | None]
    # Highest seq that ever arrived (stored or refused) and how many records were stored.
    first_seq: Mapped[int] = mapped_column(BigInteger, default=1, server_default="1")
    last_seq: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    received_count: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    #: The registration this laptop had before it registered again (it proved holding that
    #: token): files either registration sent count as held for both.
    previous_device_id: Mapped[str | None] = mapped_column(ForeignKey("device.id"))


class RegistrationCode(Base):
    """A one-time code an office user hands to a team to register one device."""

    __tablename__ = "registration_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    team: Mapped[str] = mapped_column(String(80))
    kecamatan_kode: Mapped[str | None] = mapped_column(String(8))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]
    used_at: Mapped[dt.datetime | None]
    device_id: Mapped[str | None] = mapped_column(ForeignKey("device.id"))
    created_by: Mapped[str | None] = mapped_column(String(64))
