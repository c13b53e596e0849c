"""Biometric file availability, as the ingest, the uploads and the record completeness need it.

A file is *held* for a device only when that device sent its bytes itself (verified, and
recorded in ``blob_holder``), or an earlier or later registration of the same laptop did. The
blob and its file are stored once, whoever sent them; what a device is told ("nothing to send",
``missing_blobs``) and whether its records are complete depend on its own uploads only. So a
device that merely knows a file's hash (and size) can neither claim the file for its records
nor learn whether the server holds it: a held hash and an unknown one get the same answers.

Trusted in-process callers (the demo, which puts its files in the store itself) ask
:func:`stored_blobs` instead: whatever the store holds.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable

from sqlalchemy import ColumnElement, SQLColumnExpression, and_, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from server.core.extensions import db
from server.core.models import Device
from server.core.models.base import table_of
from server.core.models.blob import BlobHolder


def laptop_links() -> list[tuple[str, str]]:
    """``(device, other device)`` for every two registrations of the same laptop.

    Registrations are linked through ``device.previous_device_id`` (a laptop registered
    again with the token it held); a laptop is every registration reachable through those
    links. Empty while no laptop registered twice.
    """
    link = Device.previous_device_id
    edges = db.session.execute(select(Device.id, link).where(link.is_not(None))).all()
    if not edges:
        return []
    parent: dict[str, str] = {}

    def root(node: str) -> str:
        while parent.setdefault(node, node) != node:
            node = parent[node]
        return node

    for device_id, earlier in edges:
        parent[root(device_id)] = root(str(earlier))
    laptops: dict[str, list[str]] = {}
    for node in list(parent):
        laptops.setdefault(root(node), []).append(node)
    return sorted((a, b) for members in laptops.values() for a in members for b in members
                  if a != b)


def same_laptop(device_id: str, links: list[tuple[str, str]] | None = None) -> list[str]:
    """``device_id`` and the other registrations of the same laptop, sorted."""
    pairs = laptop_links() if links is None else links
    return sorted({device_id} | {other for one, other in pairs if one == device_id})


def held_by(holder: SQLColumnExpression[str], device: SQLColumnExpression[str],
            links: list[tuple[str, str]]) -> ColumnElement[bool]:
    """SQL: the blob holder ``holder`` counts for records and uploads of ``device``."""
    same = holder == device
    if not links:
        return same
    return or_(same, *(and_(device == one, holder == other) for one, other in links))


def missing_blobs(device_id: str, sha256s: Iterable[str]) -> set[str]:
    """The hashes among ``sha256s`` whose files ``device_id`` (its laptop) has not sent.

    One query per push batch, never one per file, with the whole list as ONE parameter: an
    ``IN`` of a batch's ~7,000 hashes costs SQLAlchemy ~60 ms of per-value parameter handling,
    more than the rest of the lookup together.
    """
    wanted = set(sha256s)
    if not wanted:
        return set()
    connection = db.session.connection()
    hashes, devices = sorted(wanted), same_laptop(device_id)
    if connection.dialect.name == "postgresql":
        sql = ("SELECT sha256 FROM blob_holder WHERE sha256 = ANY(%s) AND device_id = ANY(%s)")
        params: tuple[object, ...] = (hashes, devices)
    else:
        sql = ("SELECT sha256 FROM blob_holder WHERE sha256 IN (SELECT value FROM json_each(?)) "
               "AND device_id IN (SELECT value FROM json_each(?))")
        params = (json.dumps(hashes), json.dumps(devices))
    held = {row[0] for row in connection.exec_driver_sql(sql, params)}
    return wanted - held


def stored_blobs(sha256s: Iterable[str]) -> set[str]:
    """The hashes among ``sha256s`` whose files the store holds, whoever sent them (for
    trusted in-process callers only), in one query."""
    wanted = set(sha256s)
    if not wanted:
        return set()
    connection = db.session.connection()
    hashes = sorted(wanted)
    if connection.dialect.name == "postgresql":
        sql = "SELECT sha256 FROM blob WHERE sha256 = ANY(%s)"
        params: tuple[object, ...] = (hashes,)
    else:
        sql = "SELECT sha256 FROM blob WHERE sha256 IN (SELECT value FROM json_each(?))"
        params = (json.dumps(hashes),)
    return {row[0] for row in connection.exec_driver_sql(sql, params)}


def holds(device_id: str, sha256: str) -> bool:
    """Whether ``device_id`` (its laptop) sent the file ``sha256`` itself."""
    return not missing_blobs(device_id, [sha256])


def add_holder(sha256: str, device_id: str, now: dt.datetime) -> None:
    """Record (in the caller's transaction) that ``device_id`` sent file ``sha256``; a row
    already there (another upload of the same device, a concurrent one) is kept."""
    db.session.flush()  # the blob row first: the holder row refers to it
    table = table_of(BlobHolder)
    values = {"sha256": sha256, "device_id": device_id, "created_at": now}
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(pg_insert(table).values(values).on_conflict_do_nothing())
    else:
        db.session.execute(sqlite_insert(table).values(values).on_conflict_do_nothing())
