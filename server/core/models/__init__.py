"""The server's tables, one module per domain."""

from server.core.models.audit import AuditEvent, AuditHead
from server.core.models.base import Base
from server.core.models.blanko import BlankoEntry, BlankoHead, PrintJob, PrintPriority, Suket
from server.core.models.blob import Blob, Upload
from server.core.models.case import Case, CaseRecord
from server.core.models.change import Change
from server.core.models.coverage import CoverageArrival, CoverageRefresh, CoverageRegion
from server.core.models.device import Device, RegistrationCode
from server.core.models.enrollment import Attachment, Enrollment, RejectedPush
from server.core.models.job import Job
from server.core.models.operator import Operator
from server.core.models.outreach import OutreachTarget, OutreachVisit
from server.core.models.region import Region
from server.core.models.resident import Resident
from server.core.models.user import ROLES, LoginFailure, OfficeSession, User

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
    "CoverageArrival",
    "CoverageRefresh",
    "CoverageRegion",
    "Device",
    "Enrollment",
    "Job",
    "LoginFailure",
    "OfficeSession",
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
