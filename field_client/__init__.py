"""Jemput field client: capture e-KTP enrollments offline and sync them exactly once.

A library first (:class:`FieldClient`); ``jemput-field`` is a thin CLI over it.
"""

from field_client.capture.importer import ImportReport
from field_client.capture.record import SavedRecord
from field_client.client import FieldClient, Registration
from field_client.errors import (
    CaptureInvalid,
    DeviceRevoked,
    FieldClientError,
    NetworkUnavailable,
    NotRegistered,
    OutboxCorrupt,
    RegistrationRefused,
    ServerRefused,
    StorageError,
    SyncBusy,
)
from field_client.sync.report import SyncReport

__all__ = [
    "CaptureInvalid",
    "DeviceRevoked",
    "FieldClient",
    "FieldClientError",
    "ImportReport",
    "NetworkUnavailable",
    "NotRegistered",
    "OutboxCorrupt",
    "Registration",
    "RegistrationRefused",
    "SavedRecord",
    "ServerRefused",
    "StorageError",
    "SyncBusy",
    "SyncReport",
]
