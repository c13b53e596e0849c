"""``/api/v1/sync``: devices push records and pull what changed for them."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g

from server.accounts.device_auth import device_required
from server.core.errors import TooManyRecords
from server.http.body import json_object, load, load_query
from server.http.protocol import device_protocol
from server.sync import feed, ingest
from shared.protocol import API_PREFIX, MAX_PUSH_RECORDS
from shared.schemas import PullQuerySchema, PullResponseSchema, PushRequestSchema

#: Every request names the protocol version (426 ``client_outdated`` otherwise).
bp = device_protocol(Blueprint("sync", __name__, url_prefix=f"{API_PREFIX}/sync"))
PUSH_REQUEST = PushRequestSchema()
PULL_QUERY = PullQuerySchema()
PULL_RESPONSE = PullResponseSchema()


@bp.post("/push")
@device_required
def push() -> dict[str, Any]:
    """Store a batch of sealed records; answer accepted / duplicate / rejected per record."""
    document = json_object()
    records = document.get("records")
    # Checked before the schema so an oversized batch is a 413, not a 400 field error.
    if isinstance(records, list) and len(records) > MAX_PUSH_RECORDS:
        raise TooManyRecords(f"Paling banyak {MAX_PUSH_RECORDS} rekaman per kiriman.")
    request = load(PUSH_REQUEST, document)
    # Plain dicts already in the shape of shared.schemas.PushResponseSchema (which documents
    # the answer and which the laptop loads it with); dumping them again would copy each one.
    return ingest.push(g.device.id, request["records"])


@bp.get("/pull")
@device_required
def pull() -> dict[str, Any]:
    """This device's changes after cursor ``since``."""
    query = load_query(PULL_QUERY)
    return PULL_RESPONSE.dump(feed.pull(g.device, query["since"], query["limit"]))
