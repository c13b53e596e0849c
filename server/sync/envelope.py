"""Pushed records of protocol 2: the envelope in clear, the record sealed to the office.

A push item is ``{id, seq, key_id, sealed}`` (``shared.schemas.SealedRecordSchema``): ``sealed``
is the base64 of a sealed box (``shared.sealing.seal_record``) of the whole record. The ingest
reads each envelope (:func:`read_envelope`), answers replays of the very same sealed bytes before
opening anything (:func:`sealed_replays`, one query per batch), and opens the rest
(:func:`open_envelope`: open and verify, kept apart so a benchmark can time it alone).

A record that is sealed to a key the ring does not hold (``unknown_key``) or that does not open
as the record its envelope names (``sealed_invalid``) is not a verdict on the record: nothing of
it is stored, and the laptop keeps it ``ready`` and sends it again.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

from marshmallow import ValidationError
from sqlalchemy import exists, select

from server.core.extensions import db
from server.core.keyring import KeyRing
from server.core.models import Attachment, Enrollment
from server.core.models.base import table_of
from server.core.models.blob import BlobHolder
from server.sync.blobs import same_laptop
from server.sync.ingest_check import Outcome, is_id, refuse, usable_seq
from server.sync.record_schema import FastLoader
from shared import vocab
from shared.protocol import PushStatus, RecordError
from shared.schemas import SealedRecordSchema
from shared.sealing import SealError, open_record, unb64

ENVELOPE_SCHEMA = SealedRecordSchema()
ENVELOPE = FastLoader(SealedRecordSchema)
#: What a key id may look like (``20261206-3fa9c2d1``): it is echoed and stored.
KEY_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
#: Rejections after which nothing at all is stored (no refusal row, no progress).
STORES_NOTHING = frozenset({RecordError.UNKNOWN_KEY.value, RecordError.SEALED_INVALID.value})
_ROLE_ORDER = {role: index for index, role in enumerate(vocab.BIOMETRIC_ROLES)}


@dataclass(frozen=True)
class Envelope:
    """One well-formed push item: which record, which key, and the sealed bytes."""

    id: str
    seq: int
    key_id: str
    sealed: bytes
    sealed_sha256: str


class Unopened(Exception):
    """A sealed record that does not open as the one its envelope names."""

    def __init__(self, code: RecordError, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def read_envelope(item: Any) -> Envelope | Outcome:
    """The envelope of one push item, or its refusal (``invalid``) when it is not one."""
    loaded = ENVELOPE.load(item)
    if loaded is None:
        try:
            loaded = ENVELOPE_SCHEMA.load(item)
        except ValidationError as exc:
            messages = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
            return _invalid(item, messages)
    fields: dict[str, list[str]] = {}
    if not is_id(loaded["id"]):
        fields["id"] = ["Id rekaman harus teks ASCII."]
    if not KEY_ID.match(loaded["key_id"]):
        fields["key_id"] = ["key_id hanya boleh berisi huruf, angka, titik, _ dan -."]
    try:
        sealed = unb64(loaded["sealed"])
    except SealError:
        fields["sealed"] = ["Bukan base64 yang sah."]
    if fields:
        return _invalid(item, fields)
    return Envelope(loaded["id"], loaded["seq"], loaded["key_id"], sealed,
                    hashlib.sha256(sealed).hexdigest())


def _invalid(item: Any, fields: dict[str, Any]) -> Outcome:
    record_id = item.get("id") if isinstance(item, dict) else None
    seq = usable_seq(item.get("seq")) if isinstance(item, dict) else None
    return refuse(record_id if is_id(record_id) else None, seq, RecordError.INVALID,
                  "Amplop rekaman tidak sah (id, seq, key_id, sealed).", fields)


def sealed_replays(envelopes: list[Envelope], device_id: str) -> dict[str, Outcome]:
    """Duplicates known without opening anything: records stored from these very sealed bytes
    (same id, seq and key), by id, with their state, warnings and the files still missing
    (those ``device_id``, the pushing device, has not sent itself).

    One query for the batch's records, and one more for the missing files of those found (none
    on a first push).
    """
    if not envelopes:
        return {}
    wanted = {envelope.id: envelope for envelope in envelopes}
    # Table columns, not the ORM's attributes: plain rows, without the ORM's per-row loading.
    records, named, holders = table_of(Enrollment), table_of(Attachment), table_of(BlobHolder)
    rows = db.session.execute(
        select(records.c.id, records.c.seq, records.c.key_id, records.c.sealed_sha256,
               records.c.state, records.c.warnings)
        .where(records.c.id.in_(sorted(wanted)),
               records.c.sealed_sha256.in_(sorted({e.sealed_sha256 for e in envelopes})))
    ).all()
    found: dict[str, Outcome] = {}
    for row in rows:
        envelope = wanted[row.id]
        if (row.sealed_sha256, row.seq, row.key_id) == (
                envelope.sealed_sha256, envelope.seq, envelope.key_id):
            found[row.id] = Outcome(row.id, PushStatus.DUPLICATE, row.seq, state=row.state,
                                    warnings=row.warnings)
    if not found:
        return found
    missing: dict[str, list[tuple[int, str]]] = {}
    for record_id, role, sha256 in db.session.execute(
        select(named.c.enrollment_id, named.c.role, named.c.sha256)
        .where(named.c.enrollment_id.in_(sorted(found)),
               ~exists().where(holders.c.sha256 == named.c.sha256,
                               holders.c.device_id.in_(same_laptop(device_id))))
    ).all():
        missing.setdefault(record_id, []).append((_ROLE_ORDER.get(role, 99), sha256))
    for record_id, files in missing.items():
        found[record_id].missing_blobs = [sha256 for _, sha256 in sorted(files)]
    return found


def open_envelope(ring: KeyRing, envelope: Envelope) -> dict[str, Any]:
    """Open and verify: the record ``envelope`` carries, as the laptop sealed it.

    :class:`Unopened` ``unknown_key`` when the ring does not hold the key, ``sealed_invalid``
    when the bytes do not open, do not hold a gzipped JSON object, or hold a record whose
    ``id`` or ``seq`` is not the envelope's.
    """
    secret = ring.secret_for(envelope.key_id)
    if secret is None:
        raise Unopened(RecordError.UNKNOWN_KEY,
                       f"Rekaman disegel ke kunci {envelope.key_id} yang tidak dikenal server. "
                       "Rekaman tetap di laptop; sinkronkan profil perangkat, lalu kirim lagi.")
    try:
        record = open_record(secret, envelope.sealed)
    except SealError as exc:
        raise Unopened(RecordError.SEALED_INVALID,
                       "Rekaman tersegel tidak dapat dibuka (rusak di jalan?); tidak ada yang "
                       "disimpan, kirim lagi.") from exc
    if not isinstance(record, dict):
        raise Unopened(RecordError.SEALED_INVALID, "Isi tersegel bukan objek rekaman.")
    seq = record.get("seq")
    if record.get("id") != envelope.id or type(seq) is not int or seq != envelope.seq:
        raise Unopened(RecordError.SEALED_INVALID,
                       "Isi tersegel bukan rekaman yang disebut amplopnya (id atau seq "
                       "berbeda); tidak ada yang disimpan.")
    return record


def unopened(envelope: Envelope, error: Unopened) -> Outcome:
    """The answer for a record that did not open: rejected, and nothing of it stored."""
    return refuse(envelope.id, envelope.seq, error.code, error.message)
