"""Enrollment records as pushed by devices, their attachment lists and refused pushes."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.core.models.base import Base
from server.core.models.types import BigId


class Enrollment(Base):
    """One record, stored exactly once under the client's UUID."""

    __tablename__ = "enrollment"
    __table_args__ = (
        UniqueConstraint("device_id", "seq"),
        # The office: arrivals today/this week, and a state's list in id order (keyset pages).
        Index("ix_enrollment_received_at", "received_at"),
        Index("ix_enrollment_state_id", "state", "id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("device.id"))
    seq: Mapped[int] = mapped_column(BigInteger)
    type: Mapped[str] = mapped_column(String(32))
    captured_at: Mapped[dt.datetime]
    operator: Mapped[str] = mapped_column(String(64))
    nik: Mapped[str] = mapped_column(String(16), index=True)
    desa_kode: Mapped[str] = mapped_column(String(13), index=True)
    payload: Mapped[dict[str, Any]]
    exceptions: Mapped[list[Any]]
    warnings: Mapped[list[Any]]
    supersedes: Mapped[str | None] = mapped_column(String(36), index=True)
    record_sha256: Mapped[str] = mapped_column(String(64))
    #: SHA-256 (hex) of the sealed bytes the record arrived as (protocol 2): a replay of the very
    #: same bytes is known as a duplicate before anything is opened. None: stored in clear (a
    #: protocol 1 push, the demo).
    sealed_sha256: Mapped[str | None] = mapped_column(String(64))
    #: The office key the record was sealed to (``shared.sealing``), None when it came in clear.
    key_id: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(20))  # indexed with id: ix_enrollment_state_id
    # Why the record is in its state (a reviewer's reason for needs_fix or rejected), if any.
    state_reason: Mapped[str | None] = mapped_column(String(500))
    received_at: Mapped[dt.datetime]
    state_changed_at: Mapped[dt.datetime]


class Attachment(Base):
    """A biometric file an enrollment names by content hash."""

    __tablename__ = "attachment"

    enrollment_id: Mapped[str] = mapped_column(
        ForeignKey("enrollment.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(32), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(Integer)
    media_type: Mapped[str] = mapped_column(String(64))


class RejectedPush(Base):
    """A seq that arrived but was refused, so it is not reported as a gap. No payload (PII)."""

    __tablename__ = "rejected_push"
    __table_args__ = (Index("ix_rejected_push_device_id_seq", "device_id", "seq"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("device.id"))
    seq: Mapped[int] = mapped_column(BigInteger)
    record_id: Mapped[str | None] = mapped_column(String(36))
    error_code: Mapped[str] = mapped_column(String(32))
    received_at: Mapped[dt.datetime]
