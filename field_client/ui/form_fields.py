"""The enrollment form's fields: labels in Bahasa Indonesia and the allowed values as choices."""

from __future__ import annotations

from dataclasses import dataclass

from shared import vocab
from shared.biometrics import FILE_RULES, label
from shared.labels import REASON_LABELS
from shared.vocab import BIOMETRIC_ROLES, EXCEPTABLE_ROLES, EXCEPTION_REASONS


@dataclass(frozen=True)
class Field:
    """One card field: its payload name, label, input kind and (for a select) its choices."""

    name: str
    label: str
    kind: str = "text"  # text | date | select | desa
    choices: tuple[str, ...] = ()
    hint: str = ""
    maxlength: int | None = None


CARD_FIELDS: tuple[Field, ...] = (
    Field("nik", "NIK", hint="16 angka", maxlength=16),
    Field("nama", "Nama lengkap", maxlength=120),
    Field("tempat_lahir", "Tempat lahir", maxlength=60),
    Field("tanggal_lahir", "Tanggal lahir", "date"),
    Field("jenis_kelamin", "Jenis kelamin", "select", vocab.JENIS_KELAMIN),
    Field("golongan_darah", "Golongan darah", "select", vocab.GOLONGAN_DARAH),
    Field("alamat", "Alamat", maxlength=200, hint="dusun / jalan"),
    Field("rt", "RT", hint="3 angka, mis. 001", maxlength=3),
    Field("rw", "RW", hint="3 angka, mis. 002", maxlength=3),
    Field("desa_kode", "Desa/kelurahan", "desa"),
    Field("agama", "Agama", "select", vocab.AGAMA),
    Field("status_perkawinan", "Status perkawinan", "select", vocab.STATUS_PERKAWINAN),
    Field("pekerjaan", "Pekerjaan", "select", vocab.PEKERJAAN),
    Field("kewarganegaraan", "Kewarganegaraan", "select", vocab.KEWARGANEGARAAN),
)
CARD_FIELD_NAMES = tuple(f.name for f in CARD_FIELDS)


@dataclass(frozen=True)
class Biometric:
    """One biometric role on the form: its file input and, where allowed, an exception."""

    role: str
    label: str
    exceptable: bool
    accept: str  # the file input's accept attribute


def _accept(role: str) -> str:
    suffixes = {"image/jpeg": ".jpg,.jpeg", "image/png": ".png", "image/jp2": ".jp2",
                "image/x-wsq": ".wsq"}
    kinds = FILE_RULES[role].media_types
    return ",".join([*kinds, *(suffixes[k] for k in kinds if k in suffixes)])


BIOMETRICS: tuple[Biometric, ...] = tuple(
    Biometric(role, label(role), role in EXCEPTABLE_ROLES, _accept(role))
    for role in BIOMETRIC_ROLES
)
REASONS: tuple[tuple[str, str], ...] = tuple((r, REASON_LABELS[r]) for r in EXCEPTION_REASONS)


def file_field(role: str) -> str:
    """The form's name for the file input of ``role``."""
    return f"file_{role}"


def exception_field(role: str) -> str:
    """The form's name for the exception reason of ``role``."""
    return f"exc_{role}"


def remove_field(role: str) -> str:
    """The form's name for "drop the attached file" of ``role``."""
    return f"remove_{role}"
