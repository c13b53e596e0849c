"""The server's tables, one module per domain."""

from server.models.base import Base
from server.models.blob import Blob, Upload
from server.models.change import Change
from server.models.device import Device, RegistrationCode
from server.models.enrollment import Attachment, Enrollment, RejectedPush
from server.models.region import Region
from server.models.user import ROLES, User

__all__ = [
    "ROLES",
    "Attachment",
    "Base",
    "Blob",
    "Change",
    "Device",
    "Enrollment",
    "Region",
    "RegistrationCode",
    "RejectedPush",
    "Upload",
    "User",
]
