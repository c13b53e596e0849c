"""``POST /sync/push``: store each new record exactly once, answer for every record.

Protocol 2 (:func:`push`): each item is an envelope around a record sealed to the office
(``server.sync.envelope``). A replay of the very same sealed bytes is answered from the
database before anything is opened; every other record is opened and verified once, then
classified like a record handed over in clear (:func:`push_plain`, for trusted in-process
callers such as the demo).

Exactly once across server processes rests on the database alone: the unique ``enrollment.id``
(and ``(device_id, seq)``) refuse a second copy. When a concurrent push wins the race, the
commit fails with an IntegrityError; the batch is then classified again, and the records the
other push stored come out as duplicates.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import case, select, update
from sqlalchemy.exc import IntegrityError

from server.accounts.devices import device_progress
from server.core import keyring
from server.core.bulk import copy_rows, insert_rows
from server.core.errors import NotFound, ServiceUnavailable, TooManyRecords
from server.core.extensions import db
from server.core.models import Attachment, Change, Device, Enrollment, RejectedPush
from server.core.models.base import table_of
from server.core.timeutil import utcnow
from server.sync import signals
from server.sync.blobs import missing_blobs
from server.sync.completeness import check_completed, complete_ready
from server.sync.envelope import (
    STORES_NOTHING,
    Envelope,
    Unopened,
    open_envelope,
    read_envelope,
    sealed_replays,
    unopened,
)
from server.sync.ingest_check import Outcome, classify, is_id, load_known
from server.sync.transitions import CHANGE_COLUMNS, Move, move_records
from shared.protocol import MAX_PUSH_RECORDS, ChangeKind, PushStatus, ServerState

log = logging.getLogger(__name__)

#: Attempts before a push that keeps racing other writers is answered 503 (the client resends).
MAX_ATTEMPTS = 5
ENROLLMENT_COLUMNS = (
    "id", "device_id", "seq", "type", "captured_at", "operator", "nik", "desa_kode", "payload",
    "exceptions", "warnings", "supersedes", "record_sha256", "sealed_sha256", "key_id", "state",
    "received_at", "state_changed_at",
)
ATTACHMENT_COLUMNS = ("enrollment_id", "role", "sha256", "size", "media_type")
REJECTED_COLUMNS = ("device_id", "seq", "record_id", "error_code", "received_at")
#: States a record leaves when a new version of it arrives (later ones are decisions kept).
REPLACEABLE = tuple(state.value for state in (
    ServerState.RECEIVED, ServerState.COMPLETE, ServerState.VERIFIED, ServerState.NEEDS_REVIEW,
    ServerState.NEEDS_FIX,
))
#: One pushed item once read: its answer already, or the envelope and the record it opened to.
Prepared = Outcome | tuple[Envelope, dict[str, Any]]


def push(device_id: str, items: Sequence[Any]) -> dict[str, Any]:
    """Store a device's batch of sealed records (protocol 2) in one transaction; return
    per-record results and progress."""
    _check_batch(items)
    prepared = open_batch(items, device_id)
    opened = [item[1] for item in prepared if isinstance(item, tuple)]

    def decide() -> list[Outcome]:
        verdicts = iter(classify(opened, load_known(device_id, opened)))
        outcomes = []
        for item in prepared:
            if isinstance(item, Outcome):
                outcomes.append(item)
                continue
            outcome = next(verdicts)
            if outcome.status is PushStatus.ACCEPTED:
                outcome.sealed_sha256, outcome.key_id = item[0].sealed_sha256, item[0].key_id
            outcomes.append(outcome)
        return outcomes

    return _store(device_id, decide)


def push_plain(device_id: str, records: Sequence[Any]) -> dict[str, Any]:
    """Store records handed over in clear by a trusted in-process caller (the demo, tests of
    the office): the same checks as a push, without envelopes; nothing to open. Such a caller
    puts the files in the store itself: a file stored counts as this device's."""
    _check_batch(records)
    return _store(device_id,
                  lambda: classify(records, load_known(device_id, records, trusted=True)))


def open_batch(items: Sequence[Any], device_id: str) -> list[Prepared]:
    """Each item's envelope read, replays of stored sealed bytes answered (with the files
    ``device_id`` has still to send), the rest opened.

    The same sealed bytes twice in one batch are opened once. The key ring is read only when
    something is to be opened.
    """
    envelopes = [read_envelope(item) for item in items]
    replays = sealed_replays([e for e in envelopes if isinstance(e, Envelope)], device_id)
    ring: keyring.KeyRing | None = None
    opened: dict[tuple[str, str, int, str], dict[str, Any] | Unopened] = {}
    prepared: list[Prepared] = []
    for envelope in envelopes:
        if isinstance(envelope, Outcome):
            prepared.append(envelope)
            continue
        replay = replays.get(envelope.id)
        if replay is not None:
            prepared.append(_copy(replay))
            continue
        key = (envelope.sealed_sha256, envelope.id, envelope.seq, envelope.key_id)
        if key not in opened:
            ring = ring or keyring.current()
            try:
                opened[key] = open_envelope(ring, envelope)
            except Unopened as error:
                opened[key] = error
        result = opened[key]
        prepared.append(unopened(envelope, result) if isinstance(result, Unopened)
                        else (envelope, result))
    return prepared


def _copy(outcome: Outcome) -> Outcome:
    """A replay's answer, its own object (the same record twice in a batch gets two)."""
    return Outcome(outcome.id, outcome.status, outcome.seq, state=outcome.state,
                   warnings=outcome.warnings, missing_blobs=list(outcome.missing_blobs))


def _check_batch(items: Sequence[Any]) -> None:
    if len(items) > MAX_PUSH_RECORDS:
        raise TooManyRecords(f"Paling banyak {MAX_PUSH_RECORDS} rekaman per kiriman.")


def _store(device_id: str, decide: Callable[[], list[Outcome]]) -> dict[str, Any]:
    """Write what ``decide`` makes of the batch, deciding again when a concurrent push won."""
    for attempt in range(1, MAX_ATTEMPTS + 1):
        outcomes = decide()
        try:
            replaced = _write(device_id, outcomes, utcnow())
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
            log.info("Push from device %s raced another writer (attempt %d)", device_id, attempt)
            continue
        stored_complete = [str(o.id) for o in outcomes if o.status is PushStatus.ACCEPTED
                           and o.state == ServerState.COMPLETE]
        _complete_arrived(device_id, outcomes)
        # The others were checked as they completed; new seqs may have opened or closed a gap.
        arrived = any(_arrived(o) for o in outcomes)
        check_completed(stored_complete, pushed_by=device_id if arrived else None)
        if replaced:
            signals.announce(signals.records_replaced, replaced)
        return {
            "results": [outcome.result() for outcome in outcomes],
            "device": device_progress(device_id),
        }
    raise ServiceUnavailable("Terlalu banyak kiriman bersamaan. Coba kirim lagi.")


def _arrived(outcome: Outcome) -> bool:
    """Whether the outcome stores a row (a new record, or a refusal that counts as arrived)."""
    if outcome.status is PushStatus.ACCEPTED:
        return True
    return outcome.status is PushStatus.REJECTED and not _stores_nothing(outcome)


def _stores_nothing(outcome: Outcome) -> bool:
    """A record that did not open: not a verdict, so no refusal row and no progress."""
    return (outcome.error or {}).get("code") in STORES_NOTHING


def _complete_arrived(device_id: str, outcomes: list[Outcome]) -> None:
    """Complete the batch's received records whose last file landed while they were pushed.

    A second short transaction after the commit: with the sweep that follows every finished
    blob it leaves no record waiting for a file that is there (see ``completeness``).
    """
    waiting = [o for o in outcomes if o.id is not None and o.state == ServerState.RECEIVED
               and o.status is not PushStatus.REJECTED]
    # Usually no file landed meanwhile: one lookup of the batch's missing hashes says so,
    # and the (costlier) completeness query runs only for records that may now be complete.
    hashes = {sha256 for o in waiting for sha256 in o.missing_blobs}
    landed = hashes - missing_blobs(device_id, hashes) if hashes else set()
    candidates = {str(o.id) for o in waiting
                  if not o.missing_blobs or landed.intersection(o.missing_blobs)}
    db.session.commit()  # end the read transaction of the lookup
    if not candidates:
        return
    done = set(complete_ready(candidates))
    for outcome in outcomes:
        if outcome.id in done:
            outcome.state, outcome.missing_blobs = ServerState.COMPLETE.value, []


def _write(device_id: str, outcomes: list[Outcome], now: dt.datetime) -> set[str]:
    """All rows of one push: progress first, then records, files, feed and refusals.

    Returns the ids of the records that new versions in the batch replaced.
    """
    accepted = [o for o in outcomes if o.status is PushStatus.ACCEPTED]
    refused = [o for o in outcomes if o.status is PushStatus.REJECTED and o.seq is not None
               and not _stores_nothing(o)]
    if not accepted and not refused:
        return set()  # a pure replay writes nothing and takes no write lock
    # The device row is updated first: it serialises this device's pushes, so the feed
    # cursors of one device are handed out in commit order and a pull never skips one.
    _advance_device(device_id, max(int(o.seq or 0) for o in accepted + refused), len(accepted))
    # A push's rows go by COPY on PostgreSQL: the attachment rows above all (about 14 a
    # record), the records and the feed the same way. The backend's cost is writing the rows
    # and their index entries either way (docs/benchmarks.md, "Push").
    copy_rows(table_of(Enrollment), ENROLLMENT_COLUMNS,
              [_enrollment(device_id, o, now) for o in accepted])
    copy_rows(table_of(Attachment), ATTACHMENT_COLUMNS, [
        (o.id, a["role"], a["sha256"], a["size"], a["media_type"])
        for o in accepted for a in _data(o)["attachments"]
    ])
    copy_rows(table_of(Change), CHANGE_COLUMNS, [
        (device_id, ChangeKind.RECORD_STATUS.value, o.id, o.state, None, now) for o in accepted
    ])
    replaced = _supersede(device_id, accepted, now)
    insert_rows(table_of(RejectedPush), REJECTED_COLUMNS, [
        # No payload here: only that this seq arrived and why it was refused.
        (device_id, o.seq, o.id if is_id(o.id) else None, (o.error or {}).get("code"), now)
        for o in refused
    ])
    return replaced


def _supersede(device_id: str, accepted: list[Outcome], now: dt.datetime) -> set[str]:
    """Move the records this batch's new versions replace to ``superseded``.

    The old version keeps its row; the new one names it in ``supersedes``. An old version
    already decided (approved, rejected, duplicate) keeps its state. A record of this very
    batch that got replaced is answered with its new state.
    """
    replaced = {str(_data(o)["supersedes"]): str(o.id) for o in accepted
                if _data(o)["supersedes"]}
    if not replaced:
        return set()
    table = table_of(Enrollment)
    rows = db.session.execute(
        select(table.c.id, table.c.device_id, table.c.state)
        .where(table.c.id.in_(sorted(replaced)), table.c.state.in_(REPLACEABLE))
    ).all()
    moved = move_records(
        [Move(row.id, row.device_id, row.state, ServerState.SUPERSEDED.value,
              f"diganti oleh rekaman {replaced[row.id]}") for row in rows],
        actor=f"device:{device_id}", action="supersede", at=now,
    )
    done = {move.record_id for move in moved}
    for outcome in accepted:
        if outcome.id in done:
            outcome.state, outcome.missing_blobs = ServerState.SUPERSEDED.value, []
    return done


def _advance_device(device_id: str, high_seq: int, stored: int) -> None:
    table = table_of(Device)
    db.session.execute(
        update(table)
        .where(table.c.id == device_id)
        .values(
            last_seq=case((table.c.last_seq < high_seq, high_seq), else_=table.c.last_seq),
            received_count=table.c.received_count + stored,
        )
    )


def _data(outcome: Outcome) -> dict[str, Any]:
    assert outcome.data is not None
    return outcome.data


def _enrollment(device_id: str, outcome: Outcome, now: dt.datetime) -> tuple[Any, ...]:
    """One ``enrollment`` row, in ``ENROLLMENT_COLUMNS`` order."""
    data, raw = _data(outcome), outcome.raw
    assert raw is not None
    return (
        data["id"], device_id, data["seq"], data["type"], data["captured_at"], data["operator"],
        data["payload"]["nik"], data["payload"]["desa_kode"],
        raw["payload"],  # as received: JSON types, the very spelling that was hashed
        raw.get("exceptions", []), outcome.warnings, data["supersedes"],
        outcome.record_sha256, outcome.sealed_sha256, outcome.key_id, outcome.state, now, now,
    )


def versions(record_id: str) -> list[str]:
    """The ids of every version of a record, oldest first (the ``supersedes`` chain)."""
    start = db.session.get(Enrollment, record_id)
    if start is None:
        raise NotFound(f"Rekaman {record_id} tidak ditemukan.")
    chain, older = [record_id], start.supersedes
    while older is not None and older not in chain:  # back to the first version
        row = db.session.execute(
            select(Enrollment.supersedes).where(Enrollment.id == older)
        ).first()
        if row is None:
            break
        chain.insert(0, older)
        older = row.supersedes
    while True:  # forward to the newest (the first that arrived, should two name one)
        newer = db.session.execute(
            select(Enrollment.id).where(Enrollment.supersedes == chain[-1])
            .order_by(Enrollment.received_at, Enrollment.seq).limit(1)
        ).scalar()
        if newer is None or newer in chain:
            break
        chain.append(newer)
    db.session.commit()
    return chain
