"""Biometric files held by the server, and the tus uploads that bring them."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from server.core.models.base import Base


class Blob(Base):
    """A finished, verified file: its bytes hash to ``sha256`` and sit in the blob store."""

    __tablename__ = "blob"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    media_type: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime]


class Upload(Base):
    """One tus upload of one file by one device; ``id`` is the unguessable URL token."""

    __tablename__ = "upload"
    __table_args__ = (
        # "Does this device already have an upload of this file?" at every creation.
        Index("ix_upload_device_id_sha256", "device_id", "sha256"),
        # The expiry sweep: unfinished uploads by deadline.
        Index("ix_upload_state_expires_at", "state", "expires_at"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("device.id"))
    #: SHA-256 (hex) of the plaintext file: the blob it becomes.
    sha256: Mapped[str] = mapped_column(String(64))
    #: ``Upload-Length``: the bytes sent, the sealed box (plaintext + 48) since protocol 2.
    length: Mapped[int] = mapped_column(BigInteger)
    offset: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    media_type: Mapped[str] = mapped_column(String(64))
    filename: Mapped[str | None] = mapped_column(String(255))
    #: The office key the file is sealed to; None for an upload of protocol 1 (plaintext).
    key_id: Mapped[str | None] = mapped_column(String(64))
    #: The plaintext's size (the metadata's ``size``); None for an upload of protocol 1.
    plain_size: Mapped[int | None] = mapped_column(BigInteger)
    #: ``uploading``, ``finished``, ``failed`` (did not open, or hash check), ``terminated`` or
    #: ``expired``.
    state: Mapped[str] = mapped_column(String(16))
    #: Every PATCH body byte ever read for this upload, refused or re-sent ones included:
    #: ``sum(received_bytes) - sum(sizes)`` is what a flaky link cost in bytes sent twice.
    received_bytes: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    created_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]
    expires_at: Mapped[dt.datetime]
