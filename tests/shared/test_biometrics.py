"""The coverage rule both sides share: a file or an explained exception for every biometric."""

from __future__ import annotations

from typing import Any

import pytest
from marshmallow import ValidationError

from shared.biometrics import (
    BIOMETRICS_INCOMPLETE,
    FILE_RULES,
    incomplete_warning,
    missing_roles,
    size_problem,
)
from shared.canonical import with_hash
from shared.labels import ROLE_LABELS
from shared.schemas import RecordSchema
from shared.vocab import (
    BIOMETRIC_ROLES,
    EXCEPTABLE_ROLES,
    EXCEPTION_REASONS,
    FINGER_ROLES,
    MAX_ATTACHMENT_BYTES,
    MEDIA_TYPES,
)
from tests.support.payloads import SHA, record

FINGERS_AND_IRISES = [r for r in BIOMETRIC_ROLES if r.startswith(("finger_", "iris_"))]


def test_a_recording_is_a_photo_a_signature_two_irises_and_ten_fingers() -> None:
    assert len(BIOMETRIC_ROLES) == 14 == len(set(BIOMETRIC_ROLES))
    assert len(FINGER_ROLES) == 10
    assert set(EXCEPTABLE_ROLES) == set(BIOMETRIC_ROLES) - {"photo"}
    assert set(FILE_RULES) == set(BIOMETRIC_ROLES) == set(ROLE_LABELS)


def test_every_rule_fits_the_wire_format() -> None:
    for role, rule in FILE_RULES.items():
        assert set(rule.media_types) <= set(MEDIA_TYPES), role
        assert 0 < rule.min_bytes < rule.max_bytes <= MAX_ATTACHMENT_BYTES, role
    assert FILE_RULES["photo"].media_types == ("image/jpeg", "image/png", "image/jp2")
    assert FILE_RULES["signature"].media_types == ("image/png", "image/jpeg")
    assert FILE_RULES["iris_left"].media_types == ("image/jp2", "image/png", "image/jpeg")
    assert FILE_RULES["finger_l_little"].media_types == ("image/x-wsq", "image/png", "image/jpeg")


def test_a_complete_recording_misses_nothing() -> None:
    assert missing_roles(BIOMETRIC_ROLES, []) == []
    assert missing_roles(["photo"], EXCEPTABLE_ROLES) == []
    assert incomplete_warning(BIOMETRIC_ROLES, []) is None


@pytest.mark.parametrize("role", [*FINGERS_AND_IRISES, "signature"])
def test_each_role_left_out_is_missing(role: str) -> None:
    others = [r for r in BIOMETRIC_ROLES if r != role]
    assert missing_roles(others, []) == [role]
    assert missing_roles(others, [role]) == []


def test_the_photo_cannot_be_excused_and_order_is_the_recording_order() -> None:
    assert missing_roles([], ["photo"]) == list(BIOMETRIC_ROLES)
    assert missing_roles(["finger_l_little", "photo"], ["iris_right"]) == [
        r for r in BIOMETRIC_ROLES if r not in ("finger_l_little", "photo", "iris_right")
    ]
    assert missing_roles(["photo"], ["not_a_role"])[0] == "signature"


def test_the_warning_names_every_missing_role() -> None:
    warning = incomplete_warning(["photo", "signature"], ["iris_left"])
    assert warning is not None and warning["code"] == BIOMETRICS_INCOMPLETE
    assert "iris kanan (iris_right)" in warning["message"]
    assert "kelingking kiri (finger_l_little)" in warning["message"]
    assert "iris_left" not in warning["message"] and "(photo)" not in warning["message"]


@pytest.mark.parametrize(
    ("role", "size", "expected"),
    [
        ("photo", 2047, "terlalu kecil untuk foto wajah (2.047 byte; paling sedikit 2 KB)"),
        ("photo", 2048, None),
        ("photo", 10 * 1024 * 1024, None),
        ("photo", 10 * 1024 * 1024 + 1, "lebih besar dari 10 MB, batas untuk foto wajah "
         "(10.485.761 byte)"),
        ("signature", 511, "terlalu kecil untuk tanda tangan (511 byte"),
        ("signature", 512, None),
        ("finger_r_thumb", 1023, "terlalu kecil untuk ibu jari kanan"),
        ("finger_r_thumb", 20_000, None),
        ("finger_r_thumb", 2 * 1024 * 1024 + 1, "lebih besar dari 2 MB, batas untuk ibu jari"),
        ("iris_left", 1024, None),
        ("iris_left", 600, "terlalu kecil untuk iris kiri"),
    ],
)
def test_size_limits_per_role(role: str, size: int, expected: str | None) -> None:
    problem = size_problem(role, size)
    if expected is None:
        assert problem is None
    else:
        assert problem is not None and expected in problem


def full_record(**changes: Any) -> dict[str, Any]:
    attachments = [
        {"role": role, "sha256": SHA, "size": 20_000, "media_type": "image/jpeg"}
        for role in BIOMETRIC_ROLES
    ]
    return record(attachments=attachments, exceptions=[], **changes)


@pytest.mark.parametrize("reason", EXCEPTION_REASONS)
def test_the_wire_format_takes_a_signature_exception(reason: str) -> None:
    data = full_record()
    data["attachments"] = data["attachments"][:1]  # the photo alone
    data["exceptions"] = [{"role": role, "reason": reason} for role in EXCEPTABLE_ROLES]
    loaded = RecordSchema().load(with_hash({k: v for k, v in data.items() if k != "record_sha256"}))
    assert loaded["exceptions"][0] == {"role": "signature", "reason": reason}
    assert len(loaded["exceptions"]) == 13


def test_the_wire_format_still_refuses_a_photo_exception() -> None:
    with pytest.raises(ValidationError) as caught:
        RecordSchema().load(record(exceptions=[{"role": "photo", "reason": "other"}]))
    assert "exceptions" in caught.value.messages
