"""Biometric files held by the server, the devices that sent them, and the tus uploads."""

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


class BlobHolder(Base):
    """A device that sent a blob's bytes itself (verified): only to it is the file "held".

    The blob and its file are stored once; every further device that uploads the same file
    adds only its row here. A record is complete once its own device (or an earlier
    registration of the same laptop) holds each of its files, and an upload creation answers
    "nothing to send" only to such a device: a hash alone claims nothing and reveals nothing.
    """

    __tablename__ = "blob_holder"

    sha256: Mapped[str] = mapped_column(ForeignKey("blob.sha256"), primary_key=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("device.id"), primary_key=True)
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
