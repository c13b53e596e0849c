"""An in-memory stand-in for the server's transport, for sync engine tests without HTTP."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from field_client.config import Settings
from field_client.errors import FieldClientError, NetworkUnavailable, PayloadTooLarge
from shared.canonical import record_sha256


@dataclass
class FakeServer:
    """Stores records once by id, answers like API v1, and can be told to misbehave."""

    stored: dict[str, dict[str, Any]] = field(default_factory=dict)
    bodies: list[bytes] = field(default_factory=list)
    feed: list[dict[str, Any]] = field(default_factory=list)
    max_records: int | None = None  # larger pushes get a 413
    max_bytes: int | None = None
    reject_desa: str | None = None
    skip_ids: set[str] = field(default_factory=set)  # left out of the answer
    damage_ids: set[str] = field(default_factory=set)  # arrive damaged: "hash_mismatch"
    fail_push_after: int | None = None  # this many pushes succeed, then the network fails
    lose_answers: bool = False  # store, then fail as if the answer was cut
    fail_pull: bool = False
    error: Callable[[], FieldClientError] | None = None  # raised by every call
    blobs: set[str] = field(default_factory=set)  # files it already holds (by SHA-256)
    pushes: int = 0
    pulls: list[int] = field(default_factory=list)

    def transport(self, url: str, settings: Settings, token: str | None) -> FakeTransport:
        """A transport factory for ``FieldClient(transport_factory=...)``."""
        return FakeTransport(self)

    def push(self, body: bytes) -> dict[str, Any]:
        if self.error:
            raise self.error()
        if self.fail_push_after is not None and self.pushes >= self.fail_push_after:
            raise NetworkUnavailable("network down (fake)")
        records = json.loads(body)["records"]
        if (self.max_records and len(records) > self.max_records) or (
            self.max_bytes and len(body) > self.max_bytes
        ):
            raise PayloadTooLarge("too large (fake)", status=413)
        self.pushes += 1
        self.bodies.append(body)
        results = [self._one(r) for r in records if r["id"] not in self.skip_ids]
        if self.lose_answers:
            raise NetworkUnavailable("answer lost (fake)")
        seqs = sorted(r["seq"] for r in self.stored.values())
        return {
            "results": results,
            "device": {"last_seq": seqs[-1] if seqs else 0, "received": len(seqs), "gaps": []},
        }

    def _one(self, record: dict[str, Any]) -> dict[str, Any]:
        base = {"id": record["id"], "warnings": [], "missing_blobs": []}
        if record["payload"]["desa_kode"] == self.reject_desa:
            error = {
                "code": "unknown_region",
                "message": "Kode desa tidak dikenal.",
                "fields": None,
            }
            return base | {"status": "rejected", "state": None, "errors": error}
        if record["id"] in self.damage_ids or record["record_sha256"] != record_sha256(record):
            error = {
                "code": "hash_mismatch",
                "message": "record_sha256 tidak cocok dengan isi rekaman (rusak di jalan?).",
                "fields": None,
            }
            return base | {"status": "rejected", "state": None, "errors": error}
        missing = [a["sha256"] for a in record["attachments"] if a["sha256"] not in self.blobs]
        state = "received" if missing else "complete"
        status = "duplicate" if record["id"] in self.stored else "accepted"
        self.stored.setdefault(record["id"], record)
        return base | {"status": status, "state": state, "errors": None, "missing_blobs": missing}

    def pull(self, since: int, limit: int) -> dict[str, Any]:
        if self.error:
            raise self.error()
        if self.fail_pull:
            raise NetworkUnavailable("pull failed (fake)")
        self.pulls.append(since)
        page = [c for c in self.feed if c["cursor"] > since][:limit]
        more = len([c for c in self.feed if c["cursor"] > since]) > limit
        return {"changes": page, "cursor": page[-1]["cursor"] if page else since, "more": more}

    def status_change(self, record_id: str, state: str, reason: str | None = None) -> None:
        """Append a ``record_status`` entry to the feed."""
        cursor = len(self.feed) + 1
        self.feed.append(
            {
                "cursor": cursor,
                "kind": "record_status",
                "record_id": record_id,
                "state": state,
                "reason": reason,
                "at": "2026-11-27T03:12:45Z",
            }
        )


class FakeTransport:
    """The :class:`field_client.transport.Transport` surface the engine uses."""

    def __init__(self, server: FakeServer) -> None:
        self.server = server

    def __enter__(self) -> FakeTransport:
        return self

    def __exit__(self, *_: object) -> None:
        pass

    def push(self, body: bytes) -> dict[str, Any]:
        return self.server.push(body)

    def pull(self, since: int, limit: int) -> dict[str, Any]:
        return self.server.pull(since, limit)


def gunzip_if_needed(data: bytes) -> bytes:
    """The body as JSON bytes, whether or not it was compressed."""
    return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
