"""The server's tables, one module per domain."""

from server.models.audit import AuditEvent, AuditHead
from server.models.base import Base
from server.models.blanko import BlankoEntry, BlankoHead, PrintJob, PrintPriority, Suket
from server.models.blob import Blob, Upload
from server.models.case import Case, CaseRecord
from server.models.change import Change
from server.models.device import Device, RegistrationCode
from server.models.enrollment import Attachment, Enrollment, RejectedPush
from server.models.operator import Operator
from server.models.outreach import OutreachTarget, OutreachVisit
from server.models.region import Region
from server.models.resident import Resident
from server.models.user import ROLES, User

__all__ = [
    "ROLES",
    "Attachment",
    "AuditEvent",
    "AuditHead",
    "Base",
    "BlankoEntry",
    "BlankoHead",
    "Blob",
    "Case",
    "CaseRecord",
    "Change",
    "Device",
    "Enrollment",
    "Operator",
    "OutreachTarget",
    "OutreachVisit",
    "PrintJob",
    "PrintPriority",
    "Region",
    "RegistrationCode",
    "RejectedPush",
    "Resident",
    "Suket",
    "Upload",
    "User",
]
