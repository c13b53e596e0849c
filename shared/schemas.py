"""Marshmallow schemas of the wire format (API v1) and of the enrollment record.

The server loads what devices send with these schemas and dumps its answers with them; the
field client validates a capture with the very same rules before it is saved, so a wrong NIK or
a missing field is fixed in the village.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Any

from marshmallow import (
    RAISE,
    Schema,
    ValidationError,
    fields,
    post_load,
    validate,
    validates,
    validates_schema,
)

from shared import vocab
from shared.errors import InvalidNik
from shared.nik import parse_nik
from shared.protocol import MAX_PULL_CHANGES, MAX_PUSH_RECORDS, PushStatus

SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
DESA_KODE = re.compile(r"^\d{2}\.\d{2}\.\d{2}\.\d{4}$")
RT_RW = re.compile(r"^\d{3}$")
# Names on the card: capital letters, spaces and the punctuation SIAK allows.
NAMA = re.compile(r"^[A-Z][A-Z .,'\-]*$")
PLACE = re.compile(r"^[A-Z0-9][A-Z0-9 .,'/()\-]*$")
OPERATOR = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]*$")
MAX_NAMA = 60
MAX_TEMPAT_LAHIR = 40
MAX_ALAMAT = 100
OLDEST_BIRTH_YEAR = 1900


def _choice(values: tuple[str, ...]) -> validate.OneOf:
    return validate.OneOf(values, error="Pilihan tidak dikenal: {input}.")


def _text(pattern: re.Pattern[str], max_len: int, what: str) -> list[validate.Validator]:
    return [
        validate.Length(min=1, max=max_len, error=f"{what} harus 1-{max_len} karakter."),
        validate.Regexp(pattern, error=f"{what} berisi karakter yang tidak diizinkan."),
    ]


class StrictSchema(Schema):
    """Unknown fields are an error everywhere in the contract."""

    class Meta:
        unknown = RAISE


def _nik_rules(value: str) -> None:
    """A NIK as ``shared.nik`` parses it, written as its 16 digits."""
    try:
        facts = parse_nik(value)
    except InvalidNik as exc:
        raise ValidationError(exc.message) from exc
    if facts.nik != value:
        raise ValidationError("NIK harus ditulis sebagai 16 angka tanpa spasi atau tanda.")


def _plausible_birth_date(value: dt.date) -> None:
    """Not in the future, not before ``OLDEST_BIRTH_YEAR``."""
    if value > dt.date.today():
        raise ValidationError("Tanggal lahir tidak boleh di masa depan.")
    if value.year < OLDEST_BIRTH_YEAR:
        raise ValidationError(f"Tanggal lahir sebelum {OLDEST_BIRTH_YEAR} tidak mungkin.")


class EnrollmentPayloadSchema(StrictSchema):
    """The resident's card data (SIAK field names), values already normalised to upper case."""

    nik = fields.String(required=True, validate=_nik_rules)
    nama = fields.String(required=True, validate=_text(NAMA, MAX_NAMA, "Nama"))
    tempat_lahir = fields.String(
        required=True, validate=_text(PLACE, MAX_TEMPAT_LAHIR, "Tempat lahir")
    )
    tanggal_lahir = fields.Date(required=True, format="iso", validate=_plausible_birth_date)
    jenis_kelamin = fields.String(required=True, validate=_choice(vocab.JENIS_KELAMIN))
    golongan_darah = fields.String(required=True, validate=_choice(vocab.GOLONGAN_DARAH))
    alamat = fields.String(required=True, validate=_text(PLACE, MAX_ALAMAT, "Alamat"))
    rt = fields.String(required=True, validate=validate.Regexp(RT_RW, error="RT harus 3 angka."))
    rw = fields.String(required=True, validate=validate.Regexp(RT_RW, error="RW harus 3 angka."))
    desa_kode = fields.String(
        required=True,
        validate=validate.Regexp(DESA_KODE, error="Kode desa harus berbentuk 61.09.04.2006."),
    )
    agama = fields.String(required=True, validate=_choice(vocab.AGAMA))
    status_perkawinan = fields.String(required=True, validate=_choice(vocab.STATUS_PERKAWINAN))
    pekerjaan = fields.String(required=True, validate=_choice(vocab.PEKERJAAN))
    kewarganegaraan = fields.String(required=True, validate=_choice(vocab.KEWARGANEGARAAN))


#: The card fields of a record's payload, in the schema's order.
PAYLOAD_FIELDS: tuple[str, ...] = tuple(EnrollmentPayloadSchema().fields)


class AttachmentSchema(StrictSchema):
    """One biometric file named by its content hash."""

    role = fields.String(required=True, validate=_choice(vocab.BIOMETRIC_ROLES))
    sha256 = fields.String(
        required=True, validate=validate.Regexp(SHA256_HEX, error="sha256 harus 64 heksadesimal.")
    )
    size = fields.Integer(
        required=True, strict=True, validate=validate.Range(1, vocab.MAX_ATTACHMENT_BYTES)
    )
    media_type = fields.String(required=True, validate=_choice(vocab.MEDIA_TYPES))


class BiometricExceptionSchema(StrictSchema):
    """A finger or iris that could not be captured, and why."""

    role = fields.String(required=True, validate=_choice(vocab.EXCEPTABLE_ROLES))
    reason = fields.String(required=True, validate=_choice(vocab.EXCEPTION_REASONS))


class RecordSchema(StrictSchema):
    """One record as pushed by a device (design section 2)."""

    id = fields.String(required=True)
    seq = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=2**62))
    type = fields.String(required=True, validate=validate.OneOf(["enrollment"]))
    captured_at = fields.AwareDateTime(required=True, format="iso")
    operator = fields.String(required=True, validate=_text(OPERATOR, 64, "Operator"))
    payload = fields.Nested(EnrollmentPayloadSchema, required=True)
    attachments = fields.List(
        fields.Nested(AttachmentSchema), required=True, validate=validate.Length(max=20)
    )
    exceptions = fields.List(
        fields.Nested(BiometricExceptionSchema),
        load_default=list,
        validate=validate.Length(max=len(vocab.EXCEPTABLE_ROLES)),
    )
    supersedes = fields.String(load_default=None, allow_none=True)
    record_sha256 = fields.String(
        required=True,
        validate=validate.Regexp(SHA256_HEX, error="record_sha256 harus 64 heksadesimal."),
    )

    @validates("id")
    def _id(self, value: str, **_: Any) -> None:
        _check_uuid(value)

    @validates("supersedes")
    def _supersedes(self, value: str | None, **_: Any) -> None:
        if value is not None:
            _check_uuid(value)

    @validates_schema
    def _roles(self, data: dict[str, Any], **_: Any) -> None:
        roles = [a["role"] for a in data.get("attachments", [])]
        excepted = [e["role"] for e in data.get("exceptions", [])]
        if len(set(roles)) != len(roles):
            raise ValidationError("Satu peran biometrik hanya boleh satu berkas.", "attachments")
        if len(set(excepted)) != len(excepted):
            raise ValidationError(
                "Satu peran biometrik hanya boleh satu pengecualian.", "exceptions"
            )
        if set(roles) & set(excepted):
            raise ValidationError(
                "Peran yang punya berkas tidak boleh juga dikecualikan.", "exceptions"
            )
        if data.get("supersedes") is not None and data["supersedes"] == data.get("id"):
            raise ValidationError("Rekaman tidak dapat menggantikan dirinya sendiri.", "supersedes")

    @post_load
    def _utc(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        data["captured_at"] = data["captured_at"].astimezone(dt.UTC)
        return data


def _check_uuid(value: str) -> None:
    try:
        parsed = uuid.UUID(value)
    except (ValueError, AttributeError, TypeError) as exc:
        raise ValidationError("Harus berupa UUID.") from exc
    if str(parsed) != value:
        raise ValidationError("UUID harus ditulis dalam bentuk kanonik huruf kecil.")


#: Longest ``sealed`` text of a pushed record (base64 of a sealed gzipped record).
MAX_SEALED_B64 = 2 * 1024 * 1024


class SealedRecordSchema(StrictSchema):
    """One pushed record (protocol 2): the envelope in clear, the record sealed to the office.

    ``sealed`` is the base64 of a libsodium sealed box (``shared.sealing.seal_record``) of the
    gzipped canonical JSON of the whole record (:class:`RecordSchema` with ``record_sha256``);
    ``key_id`` names the office key it is sealed to. ``id`` and ``seq`` must equal the record's.
    """

    id = fields.String(required=True, validate=validate.Length(1, 36))
    seq = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=2**62))
    key_id = fields.String(required=True, validate=validate.Length(1, 64))
    sealed = fields.String(required=True, validate=validate.Length(1, MAX_SEALED_B64))


class PushRequestSchema(StrictSchema):
    """``POST /sync/push`` body: :class:`SealedRecordSchema` items, which the server checks one by
    one (a malformed one is refused alone, not the batch)."""

    records = fields.List(
        fields.Dict(),
        required=True,
        validate=validate.Length(min=1, max=MAX_PUSH_RECORDS),
    )


class RecordErrorSchema(Schema):
    code = fields.String(required=True)
    message = fields.String(required=True)
    fields_ = fields.Dict(data_key="fields", attribute="fields", load_default=None)


class PushResultSchema(Schema):
    id = fields.Raw(required=True, allow_none=True)
    status = fields.String(required=True, validate=validate.OneOf([s.value for s in PushStatus]))
    state = fields.String(load_default=None, allow_none=True)
    errors = fields.Nested(RecordErrorSchema, load_default=None, allow_none=True)
    warnings = fields.List(fields.Dict(), load_default=list)
    missing_blobs = fields.List(fields.String(), load_default=list)


class DeviceProgressSchema(Schema):
    last_seq = fields.Integer(required=True)
    received = fields.Integer(required=True)
    gaps = fields.List(fields.List(fields.Integer()), required=True)


class PushResponseSchema(Schema):
    results = fields.List(fields.Nested(PushResultSchema), required=True)
    device = fields.Nested(DeviceProgressSchema, required=True)


class ChangeSchema(Schema):
    cursor = fields.Integer(required=True)
    kind = fields.String(required=True)
    record_id = fields.String(load_default=None, allow_none=True)
    state = fields.String(load_default=None, allow_none=True)
    #: For a record sent back (``shared.protocol.RETURNED_STATES``): base64 of a box under the
    #: device's data key (``shared.datakey.encrypt_json``) of ``{"reason": str | null,
    #: "record": {"payload", "attachments", "exceptions"}}``; null otherwise.
    sealed = fields.String(load_default=None, allow_none=True)
    #: The outreach visit of an ``outreach_assigned`` / ``outreach_closed`` entry.
    visit_id = fields.String(load_default=None, allow_none=True)
    at = fields.String(required=True)


class PullResponseSchema(Schema):
    changes = fields.List(fields.Nested(ChangeSchema), required=True)
    cursor = fields.Integer(required=True)
    more = fields.Boolean(required=True)


#: An outreach visit id as the server makes them (a UUID); anything else is not asked for by URL.
VISIT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
NIK_DIGITS = re.compile(r"^[0-9]{16}$")


class OutreachVisitSchema(Schema):
    """``visit`` of ``GET /api/v1/outreach/visits/<id>/targets``: a visit as the device stores it.

    The server dumps with it (kecamatan and every other field always sent); the field client
    loads with it, which is why the kecamatan fields may be missing.
    """

    id = fields.String(required=True, validate=validate.Regexp(VISIT_ID))
    desa_kode = fields.String(required=True, validate=validate.Length(1, 20))
    desa_nama = fields.String(required=True, validate=validate.Length(1, 120))
    kecamatan_kode = fields.String(load_default=None, allow_none=True)
    kecamatan_nama = fields.String(load_default=None, allow_none=True)
    visit_date = fields.Date(required=True)
    ends_on = fields.Date(required=True)
    days = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    team = fields.String(required=True)
    state = fields.String(required=True)
    target_count = fields.Integer(required=True, strict=True, validate=validate.Range(min=0))

    @validates_schema
    def _dates(self, data: dict[str, Any], **_: Any) -> None:
        if data["ends_on"] < data["visit_date"]:
            raise ValidationError("ends_on before visit_date", "ends_on")


class OutreachTargetSchema(Schema):
    """One resident on a target list: enough to find and prefill, nothing more."""

    nik = fields.String(required=True, validate=validate.Regexp(NIK_DIGITS))
    nama = fields.String(required=True, validate=validate.Length(1, 200))
    tanggal_lahir = fields.Date(load_default=None, allow_none=True)
    jenis_kelamin = fields.String(load_default=None, allow_none=True)
    alamat = fields.String(load_default=None, allow_none=True)
    rt = fields.String(load_default=None, allow_none=True)
    rw = fields.String(load_default=None, allow_none=True)


class TargetListSchema(Schema):
    """``GET /api/v1/outreach/visits/<id>/targets``: the visit, and its target list under the
    device's data key: ``sealed`` is base64 of ``shared.datakey.encrypt_json`` of
    ``{"targets": [OutreachTargetSchema, ...]}``."""

    visit = fields.Nested(OutreachVisitSchema, required=True)
    sealed = fields.String(required=True, validate=validate.Length(1, 64 * 1024 * 1024))


class TargetsContentSchema(Schema):
    """What a target list's ``sealed`` box holds."""

    targets = fields.List(fields.Nested(OutreachTargetSchema), required=True)


class ReturnedRecordSchema(Schema):
    """The record data a pull-feed entry's ``sealed`` box carries back."""

    payload = fields.Dict(required=True)
    attachments = fields.List(fields.Dict(), required=True)
    exceptions = fields.List(fields.Dict(), required=True)


class ReturnedSchema(Schema):
    """What a pull-feed entry's ``sealed`` box holds: the office's reason and the record."""

    reason = fields.String(load_default=None, allow_none=True)
    record = fields.Nested(ReturnedRecordSchema, load_default=None, allow_none=True)


class PullQuerySchema(StrictSchema):
    since = fields.Integer(load_default=0, validate=validate.Range(min=0, max=2**63 - 1))
    limit = fields.Integer(
        load_default=MAX_PULL_CHANGES, validate=validate.Range(1, MAX_PULL_CHANGES)
    )


class RegisterRequestSchema(StrictSchema):
    code = fields.String(required=True, validate=validate.Length(min=4, max=64))
    name = fields.String(load_default="", validate=validate.Length(max=80))
    # The lowest seq this registration will send: a laptop registered again keeps counting, and
    # the seqs it sent under its earlier registration are not gaps of the new one.
    first_seq = fields.Integer(load_default=1, strict=True, validate=validate.Range(1, 2**62))
    # A laptop registered again sends the token it had (revoked or expired alike): the two
    # registrations are then one laptop, whose uploads count for both.
    previous_token = fields.String(load_default=None, allow_none=True,
                                   validate=validate.Length(min=20, max=128))


class OfficeKeySchema(Schema):
    """The office's current sealing key: its id and its public key (base64 of 32 bytes)."""

    kid = fields.String(required=True, validate=validate.Length(1, 64))
    public = fields.String(required=True, validate=validate.Length(44, 44))


class RegisterResponseSchema(Schema):
    device_id = fields.String(required=True)
    token = fields.String(required=True)
    team = fields.String(required=True)
    name = fields.String(required=True)
    server_time = fields.String(required=True)
    protocol_version = fields.Integer(required=True)
    office_key = fields.Nested(OfficeKeySchema, required=True)


class RegionRefSchema(Schema):
    """A region named by its Kemendagri code and its name."""

    kode = fields.String(required=True, validate=validate.Length(1, 20))
    nama = fields.String(required=True, validate=validate.Length(1, 120))


class OperatorKeySchema(Schema):
    """One operator a device may let in offline: the wrap of the device's data key under the
    key the operator's PIN derives (``shared.pin``), with that derivation's salt and cost."""

    username = fields.String(required=True, validate=_text(OPERATOR, 64, "Operator"))
    salt = fields.String(required=True, validate=validate.Length(24, 24))
    opslimit = fields.Integer(required=True, strict=True, validate=validate.Range(1, 1 << 32))
    memlimit = fields.Integer(required=True, strict=True, validate=validate.Range(1, 1 << 40))
    wrap = fields.String(required=True, validate=validate.Length(1, 200))


class DeviceProfileSchema(Schema):
    """``GET /api/v1/device/profile``: who may log in on the device, under its data key.

    ``operators`` are the wraps (in clear: a PIN is needed to use one); ``sealed`` is the data
    key's box of ``{team, kecamatan, desa, operators: [{username, nama}]}``. ``version`` (also
    the answer's ETag) changes with what the laptop holds, not with each answer's fresh nonces.
    """

    version = fields.String(
        required=True, validate=validate.Regexp(SHA256_HEX, error="version harus 64 heksadesimal.")
    )
    server_time = fields.String(required=True)
    office_key = fields.Nested(OfficeKeySchema, required=True)
    operators = fields.List(fields.Nested(OperatorKeySchema), required=True)
    sealed = fields.String(required=True, validate=validate.Length(1, 1_000_000))


def normalize_payload(raw: dict[str, Any]) -> dict[str, Any]:
    """Tidy what an operator typed (case, spaces, NIK separators, RT/RW padding); keep the rest.

    The result still has to pass :class:`EnrollmentPayloadSchema`; this only removes the
    differences that are not mistakes, so the record's hash is computed over one spelling.
    """
    tidy: dict[str, Any] = {}
    for key, value in raw.items():
        if isinstance(value, str):
            value = " ".join(value.split())
            if key == "nik":
                value = value.replace(" ", "").replace("-", "").replace(".", "")
            elif key in ("rt", "rw") and value.isdigit() and len(value) < 3:
                value = value.zfill(3)
            elif key != "tanggal_lahir":
                value = value.upper()
        tidy[key] = value
    return tidy
