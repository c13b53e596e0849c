"""Protocol constants: the version, statuses, states, error codes, limits, tus.

The URLs stay under ``/api/v1``; what travels on them is protocol version 2 (sealed records and
files, data under the device key), and every device request names it in ``Jemput-Protocol``.
"""

from __future__ import annotations

from enum import StrEnum

PROTOCOL_VERSION = 2
#: The request header every device request carries with :data:`PROTOCOL_VERSION`; a request
#: without it (an older field client) is refused whole with 426 ``client_outdated``.
PROTOCOL_HEADER = "Jemput-Protocol"
API_PREFIX = "/api/v1"
PROBLEM_MEDIA_TYPE = "application/problem+json"

#: tus 1.0.0 as the upload endpoint speaks it (``/api/v1/uploads``): the version every request
#: names, the extensions it offers, the chunk checksum algorithm and the PATCH body's type.
TUS_VERSION = "1.0.0"
TUS_EXTENSIONS = "creation,creation-with-upload,checksum,expiration,termination"
TUS_CHECKSUM_ALGORITHM = "sha256"
TUS_OFFSET_STREAM = "application/offset+octet-stream"
#: ``Upload-Metadata`` keys of a sealed file: its plaintext ``sha256`` and ``size``, the office
#: key it is sealed to (``key_id``), its ``media_type`` and optionally its ``filename``.
#: ``Upload-Length`` and the chunk checksums cover the sealed bytes (size + 48).
TUS_METADATA_KEYS = ("sha256", "size", "key_id", "media_type", "filename")

#: Most records one push may carry; a larger batch is refused whole with 413.
MAX_PUSH_RECORDS = 1000
#: Most changes one pull answer carries; ``more`` says whether another page waits.
MAX_PULL_CHANGES = 500
#: Most gap ranges a push answer lists (the office sees all of them).
MAX_GAP_RANGES = 100


class PushStatus(StrEnum):
    """Per-record answer of ``POST /sync/push``."""

    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"


class ServerState(StrEnum):
    """Life of an enrollment on the server (design section 2)."""

    RECEIVED = "received"
    COMPLETE = "complete"
    VERIFIED = "verified"
    NEEDS_REVIEW = "needs_review"
    NEEDS_FIX = "needs_fix"
    APPROVED = "approved"
    REJECTED = "rejected"
    DUPLICATE = "duplicate"
    #: A newer version (a record whose ``supersedes`` names this one) replaced it.
    SUPERSEDED = "superseded"
    PRINTED = "printed"
    SUKET_ISSUED = "suket_issued"


class ClientState(StrEnum):
    """Life of a record in the field client's outbox."""

    DRAFT = "draft"
    READY = "ready"
    SENT = "sent"
    COMPLETE = "complete"
    REJECTED = "rejected"
    NEEDS_FIX = "needs_fix"
    SUPERSEDED = "superseded"
    APPROVED = "approved"
    PRINTED = "printed"
    SUKET_ISSUED = "suket_issued"


class ChangeKind(StrEnum):
    """Kinds of entries in the pull feed."""

    RECORD_STATUS = "record_status"
    #: An outreach visit (and its target list) assigned to this device: fetch the list.
    OUTREACH_ASSIGNED = "outreach_assigned"
    #: The visit is over or cancelled: delete its target list from the device.
    OUTREACH_CLOSED = "outreach_closed"


class CaseKind(StrEnum):
    """What a reconciliation check found (one ``case`` per finding)."""

    NIK_INVALID = "nik_invalid"  # the NIK fails its rules or names a region not in the table
    NOT_IN_REGISTRY = "not_in_registry"
    REGISTRY_MISMATCH = "registry_mismatch"  # name, birth date or sex differ from the registry
    DUPLICATE_NIK = "duplicate_nik"  # the same NIK recorded twice (same or another team)
    SHARED_BIOMETRIC = "shared_biometric"  # the same file under two different NIKs
    OUTSIDE_AREA = "outside_area"  # desa outside the kecamatan the device was assigned to
    CAPTURED_AT_IMPLAUSIBLE = "captured_at_implausible"  # in the future or implausibly old
    SEQUENCE_GAP = "sequence_gap"  # a device's seq numbers have a hole


class CaseResolution(StrEnum):
    """How a case ended."""

    APPROVED = "approved"
    REJECTED = "rejected"
    DUPLICATE = "duplicate"
    NEEDS_FIX = "needs_fix"
    ACKNOWLEDGED = "acknowledged"  # a sequence gap the office has looked into
    CLEARED = "cleared"  # the checks no longer find it (data corrected, record superseded)


class RecordError(StrEnum):
    """``errors.code`` of a rejected record."""

    INVALID = "invalid"
    HASH_MISMATCH = "hash_mismatch"
    CONFLICT = "conflict"
    SEQ_CONFLICT = "seq_conflict"
    UNKNOWN_REGION = "unknown_region"
    UNKNOWN_SUPERSEDES = "unknown_supersedes"
    #: The record is sealed to a key the office's key ring does not hold. Not a verdict on the
    #: record: nothing is stored and the laptop keeps it ``ready``.
    UNKNOWN_KEY = "unknown_key"
    #: The sealed bytes do not open (tampered, cut) or hold something other than the record
    #: the envelope names. Nothing is stored and the laptop keeps it ``ready``.
    SEALED_INVALID = "sealed_invalid"


#: Rejections that are not about the record itself: the laptop keeps the record ``ready`` with
#: the code and sends it again (hash_mismatch only while its own copy is intact).
HELD_RECORD_ERRORS = frozenset({RecordError.HASH_MISMATCH, RecordError.UNKNOWN_KEY,
                                RecordError.SEALED_INVALID})
#: Server states whose pull-feed entry carries the record back under the device key (``sealed``:
#: the office's reason and the record's data), so the operator can fix it or record it anew.
RETURNED_STATES = frozenset({"needs_fix", "rejected", "duplicate"})


# Server states that the field client mirrors when the pull feed reports them.
CLIENT_STATE_FOR_SERVER_STATE: dict[str, ClientState] = {
    ServerState.RECEIVED: ClientState.SENT,
    ServerState.COMPLETE: ClientState.COMPLETE,
    ServerState.VERIFIED: ClientState.COMPLETE,
    ServerState.NEEDS_REVIEW: ClientState.COMPLETE,
    ServerState.NEEDS_FIX: ClientState.NEEDS_FIX,
    ServerState.APPROVED: ClientState.APPROVED,
    ServerState.REJECTED: ClientState.REJECTED,
    ServerState.DUPLICATE: ClientState.REJECTED,
    ServerState.SUPERSEDED: ClientState.SUPERSEDED,
    ServerState.PRINTED: ClientState.PRINTED,
    ServerState.SUKET_ISSUED: ClientState.SUKET_ISSUED,
}
