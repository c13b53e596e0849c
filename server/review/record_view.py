"""One record as the office sees it: card data beside the registry, files, versions, audit."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, BinaryIO

from sqlalchemy import select

from server.core import audit
from server.core.blobstore import blob_store
from server.core.errors import NotFound
from server.core.extensions import db
from server.core.models import Attachment, Case, CaseRecord, Device, Enrollment, Region, Resident
from server.core.models.case import OPEN
from server.review.findings import normalise_name
from server.sync import ingest

#: Card fields shown beside the registry, in the order of the e-KTP.
FIELDS = ("nik", "nama", "tempat_lahir", "tanggal_lahir", "jenis_kelamin", "golongan_darah",
          "alamat", "rt", "rw", "desa_kode", "agama", "status_perkawinan", "pekerjaan",
          "kewarganegaraan")
IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/webp", "image/gif"})


@dataclass(frozen=True)
class FieldRow:
    """One card field: recorded value, registry value, and whether they differ."""

    name: str
    recorded: str
    registry: str | None
    differs: bool


@dataclass(frozen=True)
class RecordView:
    """Everything the record page shows."""

    record: dict[str, Any]
    fields: list[FieldRow]
    in_registry: bool
    attachments: list[dict[str, Any]]
    versions: list[dict[str, Any]]
    cases: list[dict[str, Any]]
    audit: list[dict[str, Any]]


def record_view(record_id: str) -> RecordView:
    """The record page's data; :class:`NotFound` when the record is unknown."""
    record = db.session.get(Enrollment, record_id)
    if record is None:
        db.session.commit()
        raise NotFound(f"Rekaman {record_id} tidak ditemukan.")
    device = db.session.get(Device, record.device_id)
    region = db.session.get(Region, record.desa_kode)
    resident = db.session.get(Resident, record.nik)
    view = RecordView(
        record=_record(record, device, region), fields=_fields(record.payload, resident),
        in_registry=resident is not None, attachments=_attachments(record_id),
        versions=_versions(record_id), cases=_cases(record_id),
        audit=[_event(e) for e in audit.events_for_record(record_id)],
    )
    db.session.commit()
    return view


def _record(record: Enrollment, device: Device | None, region: Region | None) -> dict[str, Any]:
    return {"id": record.id, "nik": record.nik, "nama": record.payload.get("nama"),
            "state": record.state, "state_reason": record.state_reason,
            "device_id": record.device_id, "device_name": device.name if device else None,
            "team": device.team if device else None, "seq": record.seq,
            "operator": record.operator, "captured_at": record.captured_at,
            "received_at": record.received_at, "state_changed_at": record.state_changed_at,
            "desa_kode": record.desa_kode, "desa_nama": region.nama if region else None,
            "supersedes": record.supersedes, "exceptions": record.exceptions,
            "warnings": record.warnings, "payload": record.payload}


def _registry_value(resident: Resident | None, name: str) -> str | None:
    if resident is None:
        return None
    value = getattr(resident, name)
    if isinstance(value, dt.date):
        return value.isoformat()
    return None if value is None else str(value)


def _fields(payload: dict[str, Any], resident: Resident | None) -> list[FieldRow]:
    rows = []
    for name in FIELDS:
        recorded = "" if payload.get(name) is None else str(payload.get(name))
        registry = _registry_value(resident, name)
        # Compared as the checks compare names: accents, case and spacing do not count.
        differs = registry is not None and normalise_name(recorded) != normalise_name(registry)
        rows.append(FieldRow(name, recorded, registry, differs))
    return rows


def _attachments(record_id: str) -> list[dict[str, Any]]:
    rows = db.session.execute(
        select(Attachment).where(Attachment.enrollment_id == record_id).order_by(Attachment.role)
    ).scalars().all()
    store = blob_store()
    return [{"role": a.role, "sha256": a.sha256, "size": a.size, "media_type": a.media_type,
             "stored": store.has_blob(a.sha256), "image": a.media_type in IMAGE_TYPES}
            for a in rows]


def _versions(record_id: str) -> list[dict[str, Any]]:
    ids = ingest.versions(record_id)
    rows = {row.id: row for row in db.session.execute(
        select(Enrollment.id, Enrollment.state, Enrollment.received_at)
        .where(Enrollment.id.in_(ids))).all()}
    return [{"id": i, "state": rows[i].state, "received_at": rows[i].received_at,
             "current": i == record_id} for i in ids if i in rows]


def _cases(record_id: str) -> list[dict[str, Any]]:
    rows = db.session.execute(
        select(Case.id, Case.kind, Case.state, Case.explanation, Case.resolution)
        .join(CaseRecord, CaseRecord.case_id == Case.id)
        .where(CaseRecord.enrollment_id == record_id)
        .order_by(Case.state != OPEN, Case.id)).mappings().all()
    return [dict(row) for row in rows]


def _event(event: Any) -> dict[str, Any]:
    return {"id": event.id, "at": event.at, "actor": event.actor, "action": event.action,
            "case_id": event.case_id, "from_state": event.from_state,
            "to_state": event.to_state, "reason": event.reason, "detail": event.detail}


def open_file(record_id: str, role: str) -> tuple[BinaryIO, str]:
    """A record's biometric file ``role`` for reading, with its media type."""
    attachment = db.session.get(Attachment, (record_id, role))
    db.session.commit()
    if attachment is None:
        raise NotFound(f"Rekaman {record_id} tidak punya berkas '{role}'.")
    try:
        return blob_store().open_blob(attachment.sha256), attachment.media_type
    except FileNotFoundError as exc:
        raise NotFound(f"Berkas '{role}' rekaman {record_id} belum diterima.") from exc
