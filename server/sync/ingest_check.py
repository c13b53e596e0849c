"""Deciding what happens to each pushed record, from the batch and what the database holds.

No writes here: :func:`load_known` runs three queries per batch (never one per record) and
:func:`classify` turns each raw record (opened from its envelope, or handed over in clear by a
trusted caller) into an :class:`Outcome`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from marshmallow import ValidationError
from sqlalchemy import select

from server.core.extensions import db
from server.core.models import Enrollment
from server.registry.regions import known_desa
from server.sync.blobs import missing_blobs, stored_blobs
from server.sync.record_schema import RECORD, IngestRecordSchema
from shared.biometrics import incomplete_warning
from shared.canonical import record_sha256
from shared.nik import check_nik_against_record, parse_nik
from shared.protocol import PushStatus, RecordError, ServerState

RECORD_SCHEMA = IngestRecordSchema()
MAX_SEQ = 2**62
MAX_ID = 36


@dataclass(frozen=True)
class Stored:
    """What the server already holds under one record id."""

    record_sha256: str
    state: str
    warnings: list[Any]
    device_id: str | None = None  # None: a record of the batch itself


@dataclass
class Known:
    """The database's side of one batch: stored ids, used seqs, known desa, missing files."""

    stored: dict[str, Stored]
    seq_owner: dict[int, str]
    desa: set[str]
    missing: set[str]  # attachment hashes whose files the pushing device has not sent
    device_id: str | None = None  # the pushing device


@dataclass
class Outcome:
    """The decision for one pushed record, and what storing it needs."""

    id: str | None
    status: PushStatus
    seq: int | None = None
    state: str | None = None
    error: dict[str, Any] | None = None
    warnings: list[Any] = field(default_factory=list)
    missing_blobs: list[str] = field(default_factory=list)
    record_sha256: str | None = None
    raw: dict[str, Any] | None = None  # the record as received (accepted or duplicate)
    data: dict[str, Any] | None = None  # the record as loaded by the schema (accepted)
    sealed_sha256: str | None = None  # the sealed bytes it arrived as (protocol 2)
    key_id: str | None = None  # the office key those bytes were sealed to

    def result(self) -> dict[str, Any]:
        """The per-record answer of ``POST /sync/push``."""
        answer: dict[str, Any] = {
            "id": self.id,
            "status": self.status.value,
            "warnings": self.warnings,
            "missing_blobs": self.missing_blobs,
        }
        if self.state is not None:
            answer["state"] = self.state
        if self.error is not None:
            answer["errors"] = self.error
        return answer


@dataclass
class _Batch:
    """What earlier records of the same batch already claimed."""

    accepted: dict[str, Stored] = field(default_factory=dict)
    seq_owner: dict[int, str] = field(default_factory=dict)
    replaced: set[str] = field(default_factory=set)  # ids an accepted record supersedes


def load_known(device_id: str, raws: Sequence[Any], trusted: bool = False) -> Known:
    """Everything :func:`classify` needs from the database, a handful of queries per batch.

    A file is missing unless ``device_id`` sent it itself; for a ``trusted`` in-process caller
    (which put the files in the store itself) unless the store holds it.
    """
    records = [raw for raw in raws if isinstance(raw, dict)]
    ids = {v for r in records for v in (r.get("id"), r.get("supersedes")) if is_id(v)}
    seqs = {seq for r in records if (seq := usable_seq(r.get("seq"))) is not None}
    payloads = [r["payload"] for r in records if isinstance(r.get("payload"), dict)]
    codes = {p["desa_kode"] for p in payloads if _ascii(p.get("desa_kode"))}
    stored: dict[str, Stored] = {}
    if ids:
        rows = db.session.execute(
            select(Enrollment.id, Enrollment.record_sha256, Enrollment.state, Enrollment.warnings,
                   Enrollment.device_id)
            .where(Enrollment.id.in_(ids))
        )
        stored = {row.id: Stored(row.record_sha256, row.state, row.warnings, row.device_id)
                  for row in rows}
    seq_owner: dict[int, str] = {}
    if seqs:
        rows = db.session.execute(
            select(Enrollment.seq, Enrollment.id)
            .where(Enrollment.device_id == device_id, Enrollment.seq.in_(seqs))
        )
        seq_owner = {row.seq: row.id for row in rows}
    hashes = _hashes(records)
    missing = hashes - stored_blobs(hashes) if trusted else missing_blobs(device_id, hashes)
    return Known(stored, seq_owner, known_desa(codes), missing, device_id)


def classify(raws: Sequence[Any], known: Known) -> list[Outcome]:
    """One outcome per raw record, in order; earlier records of the batch count as stored."""
    batch = _Batch()
    outcomes = []
    for raw in raws:
        outcome = _classify(raw, known, batch)
        if outcome.status is PushStatus.ACCEPTED:
            assert outcome.id and outcome.seq and outcome.state and outcome.record_sha256
            batch.accepted[outcome.id] = Stored(outcome.record_sha256, outcome.state,
                                                outcome.warnings)
            batch.seq_owner[outcome.seq] = outcome.id
            if outcome.data and outcome.data["supersedes"]:
                batch.replaced.add(outcome.data["supersedes"])
        outcomes.append(outcome)
    return outcomes


def _classify(raw: Any, known: Known, batch: _Batch) -> Outcome:
    """The design's checks in order: replay, schema, hash, region, supersedes, id, seq."""
    if not isinstance(raw, dict):
        return refuse(None, None, RecordError.INVALID, "Rekaman harus berupa objek JSON.")
    record_id = raw.get("id") if isinstance(raw.get("id"), str) else None
    seq = usable_seq(raw.get("seq"))
    try:
        computed = record_sha256(raw)
    except UnicodeEncodeError:  # a lone surrogate ("\ud800") cannot be UTF-8, nor hashed
        return refuse(record_id, seq, RecordError.INVALID,
                       "Rekaman berisi teks Unicode yang rusak (surrogate tunggal).")
    intact = raw.get("record_sha256") == computed
    stored = None if record_id is None else (
        batch.accepted.get(record_id) or known.stored.get(record_id)
    )
    if stored is not None and intact and stored.record_sha256 == computed:
        # Same id, same content: the stored copy was validated already, no need to again.
        return Outcome(record_id, PushStatus.DUPLICATE, seq, state=stored.state,
                       warnings=stored.warnings, missing_blobs=_missing(raw, known),
                       record_sha256=computed, raw=raw)
    data = RECORD.load(raw)  # a valid record, quickly; None: the schema says what is wrong
    if data is None:
        try:
            data = RECORD_SCHEMA.load(raw)
        except ValidationError as exc:
            return refuse(record_id, seq, RecordError.INVALID,
                           "Rekaman tidak lolos pemeriksaan.", exc.messages)
    if not intact:
        return refuse(record_id, seq, RecordError.HASH_MISMATCH,
                       "record_sha256 tidak cocok dengan isi rekaman (rusak di jalan?).")
    return _check_references(raw, data, computed, known, batch, stored)


def _check_references(
    raw: dict[str, Any], data: dict[str, Any], computed: str, known: Known, batch: _Batch,
    stored: Stored | None,
) -> Outcome:
    """Checks against other records and reference data, for a valid, intact record."""
    record_id, seq, desa = data["id"], data["seq"], data["payload"]["desa_kode"]
    supersedes = data["supersedes"]
    if desa not in known.desa:
        return refuse(record_id, seq, RecordError.UNKNOWN_REGION,
                       f"Kode desa {desa} tidak dikenal.")
    if supersedes:
        refused = _check_supersedes(record_id, seq, supersedes, known, batch)
        if refused is not None:
            return refused
    if stored is not None:
        return refuse(record_id, seq, RecordError.CONFLICT,
                       "Rekaman dengan id ini sudah tersimpan dengan isi yang berbeda.")
    owner = batch.seq_owner.get(seq) or known.seq_owner.get(seq)
    if owner is not None and owner != record_id:
        return refuse(record_id, seq, RecordError.SEQ_CONFLICT,
                       f"Nomor urut {seq} sudah dipakai rekaman lain dari perangkat ini.")
    payload = data["payload"]
    warnings = [w.as_dict() for w in check_nik_against_record(
        parse_nik(payload["nik"]), payload["tanggal_lahir"], payload["jenis_kelamin"]
    )]
    # Records made before the coverage rule (or by other tools) are kept, with a warning.
    incomplete = incomplete_warning([a["role"] for a in data["attachments"]],
                                    [e["role"] for e in data["exceptions"]])
    if incomplete is not None:
        warnings.append(incomplete)
    missing = _missing(raw, known)
    # Complete once every file it names is held; until then the files are still to come.
    state = ServerState.RECEIVED if missing else ServerState.COMPLETE
    return Outcome(record_id, PushStatus.ACCEPTED, seq, state=state.value,
                   warnings=warnings, missing_blobs=missing,
                   record_sha256=computed, raw=raw, data=data)


def _check_supersedes(record_id: str, seq: int, supersedes: str, known: Known,
                      batch: _Batch) -> Outcome | None:
    """Refuse a new version of a record that is unknown, another device's, or replaced."""
    target = batch.accepted.get(supersedes) or known.stored.get(supersedes)
    if target is None:
        return refuse(record_id, seq, RecordError.UNKNOWN_SUPERSEDES,
                       f"Rekaman {supersedes} yang hendak diganti tidak ada di server.")
    if target.device_id is not None and target.device_id != known.device_id:
        return refuse(record_id, seq, RecordError.UNKNOWN_SUPERSEDES,
                       f"Rekaman {supersedes} bukan rekaman perangkat ini; hanya perangkat "
                       "yang merekamnya yang bisa mengirim versi barunya.")
    if target.state == ServerState.SUPERSEDED or supersedes in batch.replaced:
        return refuse(record_id, seq, RecordError.CONFLICT,
                       f"Rekaman {supersedes} sudah diganti versi lain; perbaiki versi "
                       "terbarunya.")
    return None


def _missing(raw: dict[str, Any], known: Known) -> list[str]:
    """The record's attachment hashes whose files are not held (raw is known valid here)."""
    return [a["sha256"] for a in raw["attachments"] if a["sha256"] in known.missing]


def _hashes(records: list[dict[str, Any]]) -> set[str]:
    """Every string attachment hash in the batch, for one blob lookup."""
    return {
        a["sha256"]
        for r in records if isinstance(r.get("attachments"), list)
        for a in r["attachments"] if isinstance(a, dict) and _ascii(a.get("sha256"))
    }


def refuse(record_id: str | None, seq: int | None, code: RecordError, message: str,
            fields: dict[str, Any] | list[Any] | None = None) -> Outcome:
    error: dict[str, Any] = {"code": code.value, "message": message}
    if fields is not None:
        error["fields"] = fields
    return Outcome(record_id, PushStatus.REJECTED, seq, error=error)


def usable_seq(value: Any) -> int | None:
    """A usable sequence number, or None (bool is not a number here)."""
    return value if type(value) is int and 1 <= value <= MAX_SEQ else None


def _ascii(value: Any) -> bool:
    """A string safe to use as a query parameter for an ASCII-only code or hash."""
    return isinstance(value, str) and value.isascii()


def is_id(value: Any) -> bool:
    """A string that fits a record id column (its UUID form is checked by the schema)."""
    return isinstance(value, str) and 0 < len(value) <= MAX_ID and value.isascii()
