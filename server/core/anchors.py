"""Audit anchors: the chain's head, signed with the office's audit key, kept outside the database.

The audit chain (``server.core.audit``) proves that no event was edited, deleted or reordered
*unless the whole chain was recomputed*, which whoever can write the database can do, head
included. An anchor closes that gap: it names the chain's head (the last event's id and hash)
at a moment, signed with the Ed25519 audit key of the office key ring, and is stored as a new
object of the blob store, never overwritten. ``verify-audit`` checks every anchor's signature and
that the chain still has the anchored hash at the anchored id, so rewriting the database alone
is detected. Whoever can write the database *and* the blob store and holds the audit key is
caught only by anchors kept elsewhere: the daily blanko summary prints the day's anchor for the
paper file.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey
from sqlalchemy import select

from server.core import keyring
from server.core.audit import HEAD_ID, ChainReport, verify_chain
from server.core.blobstore import blob_store
from server.core.extensions import db
from server.core.models import AuditHead
from server.core.models.audit import GENESIS_HASH
from server.core.timeutil import isoformat_z, utcnow
from shared.canonical import canonical_json
from shared.sealing import b64, unb64

FORMAT = "jemput-audit-anchor-1"


@dataclass(frozen=True)
class Anchor:
    """A signed statement: at ``at``, the chain ended at event ``last_id`` with ``last_hash``."""

    name: str
    last_id: int
    last_hash: str
    at: str
    kid: str

    @property
    def short(self) -> str:
        """What a person copies onto paper: the id and the hash's first 16 characters."""
        return f"#{self.last_id} {self.last_hash[:16]}"


def make(now: dt.datetime | None = None) -> Anchor:
    """Sign the chain's current head and store it as a new anchor."""
    ring = keyring.current()
    key = ring.audit
    if key is None:
        raise RuntimeError("the key ring has no audit key (run jemput-server init)")
    head = db.session.execute(
        select(AuditHead.last_id, AuditHead.last_hash).where(AuditHead.id == HEAD_ID)).first()
    db.session.commit()
    last_id, last_hash = (int(head.last_id), str(head.last_hash)) if head else (0, GENESIS_HASH)
    moment = now or utcnow()
    statement = {"format": FORMAT, "last_id": last_id, "last_hash": last_hash,
                 "at": isoformat_z(moment), "kid": key.kid}
    body = {**statement, "signature": b64(key.sign(canonical_json(statement)))}
    base = f"{moment:%Y%m%dT%H%M%S}Z"
    data = json.dumps(body, indent=1).encode()
    for suffix in range(last_id, last_id + 1000):  # never over an existing anchor
        name = f"{base}-{suffix:06d}.json"
        if blob_store().put_anchor(name, data):
            return Anchor(name, last_id, last_hash, isoformat_z(moment), key.kid)
    raise RuntimeError("no free anchor name")


def read_all() -> list[tuple[Anchor | None, str | None]]:
    """Every stored anchor, each with the problem found in it (None when its signature holds)."""
    ring = keyring.current()
    results: list[tuple[Anchor | None, str | None]] = []
    for name, data in blob_store().anchors():
        results.append(_read(ring, name, data))
    return results


def _read(ring: keyring.KeyRing, name: str, data: bytes) -> tuple[Anchor | None, str | None]:
    try:
        body: Any = json.loads(data)
        statement = {key: body[key] for key in ("format", "last_id", "last_hash", "at", "kid")}
        signature = unb64(body["signature"])
    except (ValueError, KeyError, TypeError):
        return None, f"jangkar {name}: bukan jangkar audit yang terbaca"
    key = ring.audit_keys.get(str(statement["kid"]))
    if key is None or statement["format"] != FORMAT:
        return None, f"jangkar {name}: kunci audit {statement['kid']} tidak dikenal"
    try:
        VerifyKey(key.public).verify(canonical_json(statement), signature)
    except (BadSignatureError, ValueError, TypeError):
        return None, f"jangkar {name}: tanda tangan tidak sah"
    return Anchor(name, int(statement["last_id"]), str(statement["last_hash"]),
                  str(statement["at"]), key.kid), None


@dataclass
class Verification:
    """The chain checked against the anchors: the chain's report and how many anchors held."""

    report: ChainReport
    anchors: int


def verify() -> Verification:
    """Verify the audit chain and every anchor against it (signatures, anchored hashes)."""
    anchored: dict[int, list[str]] = {}
    problems: list[str] = []
    good = 0
    for anchor, problem in read_all():
        if anchor is None:
            problems.append(str(problem))
            continue
        good += 1
        anchored.setdefault(anchor.last_id, []).append(anchor.last_hash)
    report = verify_chain(anchored=anchored)
    report.problems[:0] = problems
    return Verification(report, good)
