"""NIK parsing on top of ``stdnum.id.nik``: structured facts and checks against a record.

A NIK is ``PP KK CC DDMMYY SSSS``: the kecamatan of *first* registration, the birth date with 40
added to the day for women, and a serial from 0001. It has no check digit, and its two-digit year
is ambiguous, so its date is a hint: disagreement with the recorded birth date is a warning for
review, never a rejection.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass

from stdnum import numdb
from stdnum.id import nik as stdnum_nik

from shared.errors import InvalidNik

LAKI_LAKI = "LAKI-LAKI"
PEREMPUAN = "PEREMPUAN"
_DIGITS16 = re.compile(r"^[0-9]{16}$")


@dataclass(frozen=True)
class NikFacts:
    """What a valid NIK says about its holder."""

    nik: str
    province_code: str  # "61"
    regency_code: str  # "61.09"
    kecamatan_code: str  # "61.09.04" (first registration, not residence)
    province_name: str | None
    regency_name: str | None
    birth_date: dt.date  # century resolved so that the date is not in the future
    jenis_kelamin: str
    serial: str


@dataclass(frozen=True)
class NikWarning:
    """A disagreement between a NIK and the record it sits in: for review, not a rejection."""

    code: str
    message: str

    def as_dict(self) -> dict[str, str]:
        """The warning as plain JSON-able data."""
        return {"code": self.code, "message": self.message}


def parse_nik(value: str, today: dt.date | None = None) -> NikFacts:
    """Parse and validate a NIK; raise :class:`InvalidNik` with a clear reason when it is wrong."""
    if not isinstance(value, str):
        raise InvalidNik("nik_type", "NIK harus berupa teks 16 angka.")
    number = value if _DIGITS16.match(value) else stdnum_nik.compact(value)
    if not number:
        raise InvalidNik("nik_length", "NIK wajib diisi: 16 angka.")
    if not number.isascii() or not number.isdigit():
        raise InvalidNik("nik_format", "NIK hanya boleh berisi angka.")
    if len(number) != 16:
        raise InvalidNik("nik_length", f"NIK harus 16 angka, bukan {len(number)}.")
    province, regency = _registration_region(number)
    sex = PEREMPUAN if int(number[6:8]) > 40 else LAKI_LAKI
    birth_date = _birth_date(number, today or dt.date.today())
    serial = number[12:16]
    if serial == "0000":
        raise InvalidNik("nik_serial", "Nomor urut NIK (4 angka terakhir) tidak boleh 0000.")
    return NikFacts(
        nik=number,
        province_code=number[0:2],
        regency_code=f"{number[0:2]}.{number[2:4]}",
        kecamatan_code=f"{number[0:2]}.{number[2:4]}.{number[4:6]}",
        province_name=province,
        regency_name=regency,
        birth_date=birth_date,
        jenis_kelamin=sex,
        serial=serial,
    )


def check_nik_against_record(
    facts: NikFacts, tanggal_lahir: dt.date, jenis_kelamin: str
) -> list[NikWarning]:
    """Compare the NIK's birth date and sex with the record's; return warnings, never raise."""
    warnings: list[NikWarning] = []
    if jenis_kelamin != facts.jenis_kelamin:
        warnings.append(
            NikWarning(
                "nik_sex_mismatch",
                f"NIK menunjukkan {facts.jenis_kelamin}, tetapi data tercatat {jenis_kelamin}.",
            )
        )
    nik_date = facts.birth_date
    same_day = (nik_date.day, nik_date.month) == (tanggal_lahir.day, tanggal_lahir.month)
    if not same_day or nik_date.year % 100 != tanggal_lahir.year % 100:
        warnings.append(
            NikWarning(
                "nik_birth_date_mismatch",
                f"Tanggal lahir dalam NIK ({nik_date:%d-%m-%y}) berbeda dengan tanggal lahir "
                f"tercatat ({tanggal_lahir:%d-%m-%Y}).",
            )
        )
    return warnings


def _registration_region(number: str) -> tuple[str | None, str | None]:
    """Province and regency names of the NIK's first registration, or raise if unknown."""
    province, regency = _region_names(number[:4])
    if province is None:
        raise InvalidNik("nik_region", f"Kode provinsi NIK '{number[0:2]}' tidak dikenal.")
    if regency is None:
        raise InvalidNik(
            "nik_region", f"Kode kabupaten/kota NIK '{number[0:2]}.{number[2:4]}' tidak dikenal."
        )
    if number[4:6] == "00":
        raise InvalidNik("nik_region", "Kode kecamatan NIK tidak boleh 00.")
    return province, regency


@functools.lru_cache(maxsize=1024)
def _region_names(prefix: str) -> tuple[str | None, str | None]:
    """stdnum's names for a 4-digit province+regency prefix; None where the code is unknown."""
    parts = numdb.get("id/loc").info(prefix)
    province = parts[0][1] if parts and parts[0][1] else None
    regency = parts[1][1] if len(parts) > 1 and parts[1][1] else None
    return (
        None if province is None else str(province.get("name_id", "")),
        None if regency is None else str(regency.get("name_id", "")),
    )


def _birth_date(number: str, today: dt.date) -> dt.date:
    """The NIK's birth date, choosing the century that does not put it in the future."""
    day, month, yy = int(number[6:8]) % 40, int(number[8:10]), int(number[10:12])
    if int(number[6:8]) > 71 or not 1 <= month <= 12:
        raise InvalidNik("nik_birth_date", "Tanggal lahir dalam NIK tidak mungkin.")
    for century in (2000, 1900):
        try:
            candidate = dt.date(century + yy, month, day)
        except ValueError:
            continue
        if candidate <= today:
            return candidate
    raise InvalidNik("nik_birth_date", "Tanggal lahir dalam NIK tidak mungkin.")
