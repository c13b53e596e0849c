"""What a complete recording holds: a file or an explicit exception per biometric, and per-role
rules for those files.

The field client refuses a capture that breaks these rules, so "forgot to capture" never passes
as done. The server keeps accepting records made before the rules (and by other tools) and only
adds the warning :data:`BIOMETRICS_INCOMPLETE`, so the office sees the gap.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from shared.labels import ROLE_LABELS
from shared.vocab import BIOMETRIC_ROLES, EXCEPTABLE_ROLES, FINGER_ROLES, IRIS_ROLES

KIB = 1024
MIB = 1024 * KIB
BIOMETRICS_INCOMPLETE = "biometrics_incomplete"


@dataclass(frozen=True)
class FileRule:
    """What one role's file may be: its media types and a plausible size in bytes (inclusive)."""

    media_types: tuple[str, ...]
    min_bytes: int
    max_bytes: int


# Floors sit well under the smallest real capture (a WSQ finger is 15-20 KB, a compact JPEG 2000
# iris a few KB, a JPEG face tens of KB) and above a minutiae template (< 1 KB), which is not an
# image; ceilings leave room for an uncompressed PNG or a camera original, not for a video.
_IRIS = FileRule(("image/jp2", "image/png", "image/jpeg"), KIB, 2 * MIB)
_FINGER = FileRule(("image/x-wsq", "image/png", "image/jpeg"), KIB, 2 * MIB)
FILE_RULES: dict[str, FileRule] = {
    "photo": FileRule(("image/jpeg", "image/png", "image/jp2"), 2 * KIB, 10 * MIB),
    "signature": FileRule(("image/png", "image/jpeg"), 512, 2 * MIB),
    **dict.fromkeys(IRIS_ROLES, _IRIS),
    **dict.fromkeys(FINGER_ROLES, _FINGER),
}

def missing_roles(attachments: Iterable[str], exceptions: Iterable[str]) -> list[str]:
    """Roles with neither a file nor a valid exception, in recording order.

    ``attachments`` and ``exceptions`` are role names. An exception for a role that cannot have
    one (the photo) does not count.
    """
    covered = set(attachments) | (set(exceptions) & set(EXCEPTABLE_ROLES))
    return [role for role in BIOMETRIC_ROLES if role not in covered]


def size_problem(role: str, size: int) -> str | None:
    """Why ``size`` bytes cannot be a real ``role`` file ("terlalu kecil untuk ..."), or None."""
    rule = FILE_RULES[role]
    if size < rule.min_bytes:
        return (
            f"terlalu kecil untuk {label(role)} ({human_size(size)}; paling sedikit "
            f"{human_size(rule.min_bytes)}): bukan hasil rekaman yang utuh."
        )
    if size > rule.max_bytes:
        return (
            f"lebih besar dari {human_size(rule.max_bytes)}, batas untuk {label(role)} "
            f"({human_size(size)})."
        )
    return None


def incomplete_warning(
    attachments: Iterable[str], exceptions: Iterable[str]
) -> dict[str, str] | None:
    """The ``biometrics_incomplete`` warning for a record missing files, or None."""
    missing = missing_roles(attachments, exceptions)
    if not missing:
        return None
    listed = ", ".join(f"{label(role)} ({role})" for role in missing)
    return {
        "code": BIOMETRICS_INCOMPLETE,
        "message": f"Biometrik tidak lengkap, tanpa berkas maupun pengecualian: {listed}.",
    }


def label(role: str) -> str:
    """The role as an operator says it ("telunjuk kanan")."""
    return ROLE_LABELS.get(role, role)


def human_size(size: int) -> str:
    """``2 MB``, ``512 KB`` for round limits, else exact: ``2.097.153 byte`` (no false ties)."""
    if size and size % MIB == 0:
        return f"{size // MIB} MB"
    if size and size % KIB == 0:
        return f"{size // KIB} KB"
    return f"{size:,} byte".replace(",", ".")
