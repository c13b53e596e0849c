"""The columns the checks need, loaded in bulk: records, registry entries, files, devices.

A full run reads every live record once (joined with its registry entry) and only the files
whose hash occurs twice; an incremental run reads the given records and their partners (same
NIK, same file) through the indexes on ``enrollment.nik`` and ``attachment.sha256``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, String, func, select, type_coerce

from server.accounts.devices import device_progress
from server.core.bulk import among
from server.core.extensions import db
from server.core.models import Attachment, Device, Enrollment, Region, Resident
from server.core.models.region import KECAMATAN
from server.review.findings import DeviceInfo, Registered, Row
from shared.protocol import ServerState

#: States whose records the checks decide about.
SCOPE = frozenset({ServerState.COMPLETE.value, ServerState.VERIFIED.value,
                   ServerState.NEEDS_REVIEW.value})
#: States of records that no longer count as a recording of anyone (partners ignore them).
DEAD = (ServerState.REJECTED.value, ServerState.DUPLICATE.value, ServerState.SUPERSEDED.value)


@dataclass
class Loaded:
    """Everything one run computes on."""

    full: bool
    rows: dict[str, Row] = field(default_factory=dict)  # live records: scope and partners
    scope: set[str] = field(default_factory=set)  # records decided by this run
    registry: dict[str, Registered] = field(default_factory=dict)
    devices: dict[str, DeviceInfo] = field(default_factory=dict)
    kecamatan: dict[str, str] = field(default_factory=dict)
    files: list[tuple[str, str, str]] = field(default_factory=list)  # (record, role, sha256)
    gaps: dict[str, list[list[int]]] = field(default_factory=dict)  # per evaluated device
    nik_partners: set[str] = field(default_factory=set)  # every live record of a scope NIK


def load(record_ids: Collection[str] | None, gap_devices: Collection[str] = ()) -> Loaded:
    """Load a full run (``None``: gaps of every device too) or an incremental run over
    ``record_ids`` and the sequence gaps of ``gap_devices``."""
    data = Loaded(full=record_ids is None)
    data.devices = {row.id: DeviceInfo(row.id, row.name, row.team, row.kecamatan_kode)
                    for row in db.session.execute(
                        select(Device.id, Device.name, Device.team, Device.kecamatan_kode))}
    data.kecamatan = {row.kode: row.nama for row in db.session.execute(
        select(Region.kode, Region.nama).where(Region.level == KECAMATAN))}
    if record_ids is None:
        _add_rows(data, None)
    else:
        for condition in among(Enrollment.id, sorted(set(record_ids))):
            _add_rows(data, condition)
    data.scope = {row.id for row in data.rows.values() if row.state in SCOPE}
    if record_ids is not None:
        data.scope &= set(record_ids)
        niks = sorted({data.rows[i].nik for i in data.scope})
        for condition in among(Enrollment.nik, niks):
            _add_rows(data, condition)
    scope_niks = {data.rows[i].nik for i in data.scope}
    data.nik_partners = {row.id for row in data.rows.values() if row.nik in scope_niks}
    _load_files(data)
    evaluated = data.devices if data.full else set(gap_devices) & set(data.devices)
    data.gaps = {device_id: device_progress(device_id)["gaps"] for device_id in sorted(evaluated)}
    return data


def add_records(data: Loaded, record_ids: Collection[str]) -> None:
    """Also load ``record_ids`` (those not loaded yet, if live), e.g. records of cleared cases."""
    for condition in among(Enrollment.id, sorted(set(record_ids) - set(data.rows))):
        _add_rows(data, condition)


def _add_rows(data: Loaded, condition: ColumnElement[bool] | None) -> None:
    """Add the live records matching ``condition`` with their registry entries."""
    payload = Enrollment.payload
    query = (
        select(Enrollment.id, Enrollment.device_id, Enrollment.nik, Enrollment.desa_kode,
               Enrollment.state, _raw(Enrollment.captured_at), _raw(Enrollment.received_at),
               Enrollment.supersedes, payload["nama"].as_string(),
               payload["tanggal_lahir"].as_string(), payload["jenis_kelamin"].as_string(),
               Resident.nama, _raw(Resident.tanggal_lahir), Resident.jenis_kelamin,
               Enrollment.seq)
        .outerjoin(Resident, Resident.nik == Enrollment.nik)
        .where(Enrollment.state.not_in(DEAD))
    )
    if condition is not None:
        query = query.where(condition)
    rows, registry = data.rows, data.registry
    # Core rows and raw timestamps: the ORM's per-row work is most of a 130,000-row read.
    for (record_id, device_id, nik, desa, state, captured, received, supersedes, nama, lahir,
         sex, r_nama, r_lahir, r_sex, seq) in db.session.connection().execute(query).fetchall():
        if record_id in rows:
            continue
        rows[record_id] = Row(record_id, device_id, nik, desa, state, _utc(captured),
                              _utc(received), supersedes, nama, lahir, sex, seq)
        if r_nama is not None:
            registry[nik] = Registered(r_nama, str(r_lahir), r_sex)


def _raw(column: Any) -> Any:
    """``column`` without its type's result processing (parsed in :func:`_utc`)."""
    return type_coerce(column, String)


def _utc(value: Any) -> dt.datetime:
    """A timestamp as the driver returned it (SQLite text, PostgreSQL datetime), in UTC."""
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC) if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return dt.datetime.fromisoformat(value + "+00:00")  # SQLite keeps naive UTC text


def _load_files(data: Loaded) -> None:
    """Files held by two or more records: every such file (full) or those of the scope."""
    if data.full:
        hashes = list(db.session.execute(
            select(Attachment.sha256).group_by(Attachment.sha256).having(func.count() > 1)
        ).scalars())
    else:
        hashes = []
        for condition in among(Attachment.enrollment_id, sorted(data.scope)):
            hashes.extend(db.session.execute(select(Attachment.sha256).where(condition))
                          .scalars())
    files: list[Any] = []
    query = select(Attachment.enrollment_id, Attachment.role, Attachment.sha256)
    for condition in among(Attachment.sha256, sorted(set(hashes)), probes=True):
        files.extend(db.session.execute(query.where(condition)))
    unknown = sorted({row[0] for row in files} - set(data.rows))
    for condition in among(Enrollment.id, unknown):
        _add_rows(data, condition)
    data.files = [(str(a), str(b), str(c)) for a, b, c in files]
