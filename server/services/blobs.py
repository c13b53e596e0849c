"""Biometric file availability, as the ingest and the record completeness need it."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select

from server.extensions import db
from server.models import Blob

#: Hashes per ``IN (...)`` list: a whole push batch (1000 records x 20 files) fits in one,
#: and it stays under SQLite's (32766) and PostgreSQL's (65535) bound-parameter limits.
LOOKUP_CHUNK = 20_000


def missing_blobs(sha256s: Iterable[str]) -> set[str]:
    """The hashes among ``sha256s`` whose files the server does not hold as finished blobs.

    One query per push batch, never one per file.
    """
    wanted = sorted(set(sha256s))
    held: set[str] = set()
    for start in range(0, len(wanted), LOOKUP_CHUNK):
        piece = wanted[start:start + LOOKUP_CHUNK]
        held.update(db.session.execute(select(Blob.sha256).where(Blob.sha256.in_(piece)))
                    .scalars())
    return set(wanted) - held
