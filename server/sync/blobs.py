"""Biometric file availability, as the ingest and the record completeness need it."""

from __future__ import annotations

import json
from collections.abc import Iterable

from server.core.extensions import db


def missing_blobs(sha256s: Iterable[str]) -> set[str]:
    """The hashes among ``sha256s`` whose files the server does not hold as finished blobs.

    One query per push batch, never one per file, with the whole list as ONE parameter: an
    ``IN`` of a batch's ~7,000 hashes costs SQLAlchemy ~60 ms of per-value parameter handling,
    more than the rest of the lookup together.
    """
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
    held = {row[0] for row in connection.exec_driver_sql(sql, params)}
    return wanted - held
