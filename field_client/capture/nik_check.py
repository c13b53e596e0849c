"""The NIK checked while it is typed: the same rules saving uses, answered as a form can show them.

An invalid NIK is an error on the ``nik`` field; a birth date or sex that disagrees with the NIK
is a warning on that field (for review, never a refusal, as when saving). A NIK first registered
in another kecamatan than the device's is normal (people move) and only noted.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from shared.errors import InvalidNik
from shared.nik import check_nik_against_record, parse_nik
from shared.vocab import JENIS_KELAMIN

OTHER_KECAMATAN = "nik_other_kecamatan"
_FIELD_OF_WARNING = {
    "nik_sex_mismatch": "jenis_kelamin",
    "nik_birth_date_mismatch": "tanggal_lahir",
}


def check(
    nik: str,
    tanggal_lahir: str | None = None,
    jenis_kelamin: str | None = None,
    kecamatan_kode: str | None = None,
) -> dict[str, Any]:
    """``{ok, errors: {"nik": [...]}, warnings: [{code, field, message}], facts | None}``.

    A ``tanggal_lahir`` that is not a date (YYYY-MM-DD) and an unknown ``jenis_kelamin`` are
    ignored here: the form reports them on their own fields.
    """
    try:
        facts = parse_nik(nik if isinstance(nik, str) else "")
    except InvalidNik as exc:
        return {"ok": False, "errors": {"nik": [exc.message]}, "warnings": [], "facts": None}
    born = _date(tanggal_lahir)
    sex = (jenis_kelamin or "").strip().upper()
    # The shared rule compares both; a value not given is compared with the NIK's own.
    found = check_nik_against_record(
        facts,
        born or facts.birth_date,
        sex if sex in JENIS_KELAMIN else facts.jenis_kelamin,
    )
    warnings = [
        {"code": w.code, "field": _FIELD_OF_WARNING.get(w.code, "nik"), "message": w.message}
        for w in found
    ]
    if kecamatan_kode and facts.kecamatan_code != kecamatan_kode:
        warnings.append(
            {
                "code": OTHER_KECAMATAN,
                "field": "nik",
                "message": (
                    f"NIK ini pertama kali terdaftar di kecamatan {facts.kecamatan_code} "
                    f"({facts.regency_name}), bukan kecamatan laptop ini ({kecamatan_kode}). "
                    "Boleh dilanjutkan: tempat pendaftaran pertama bisa berbeda."
                ),
            }
        )
    return {
        "ok": True,
        "errors": {},
        "warnings": warnings,
        "facts": {
            "kecamatan_kode": facts.kecamatan_code,
            "provinsi": facts.province_name,
            "kabupaten": facts.regency_name,
            "tanggal_lahir": facts.birth_date.isoformat(),
            "jenis_kelamin": facts.jenis_kelamin,
        },
    }


def _date(text: str | None) -> dt.date | None:
    try:
        return dt.datetime.strptime((text or "").strip(), "%Y-%m-%d").date()
    except ValueError:
        return None
