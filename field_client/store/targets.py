"""Outreach target lists on the device: store what the server assigned, search it offline, drop it.

A visit's target list holds residents' personal data (NIK, name, birth date, sex, address), so it
travels and rests as one box under the device's data key (``outreach_visit.sealed``), exactly as
the server sent it: sync stores it without a PIN, and only a logged-in operator opens it. It
lives on the device only while the visit needs it: it is deleted when the server closes or
cancels the visit, and by the local clock once the day after the visit's last day is over.
Whether a target is done compares keyed hashes of NIKs (``shared.datakey.nik_mac``) with the
records'. Searching opens the list in memory and folds case and accents.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests
from marshmallow import ValidationError

from field_client.errors import NetworkUnavailable, ServerRefused, UsageInvalid
from field_client.store.outbox import Outbox
from shared import datakey
from shared.protocol import ChangeKind
from shared.schemas import TargetsContentSchema
from shared.sealing import unb64

log = logging.getLogger(__name__)

MAX_SEARCH = 100
#: ``meta`` key: JSON {visit id: how many syncs in a row its target list failed with an answer}.
FETCH_FAILURES_META = "target_fetch_failures"
#: After this many failed syncs (the server answered, but not with the list) a visit is dropped
#: like a refused one, so one broken list does not hold back the rest of the pull feed forever.
MAX_FETCH_FAILURES = 3
#: ``code`` in ``Fetched.refused`` of a visit dropped because its list could not be fetched.
FETCH_FAILED = "fetch_failed"
#: A list is kept at least this long after it arrived, whatever the local clock says of its days.
KEEP_RECEIVED = dt.timedelta(hours=24)
#: A visit id as the server makes them (a UUID); anything else is not asked for by URL.
VISIT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_NIK = re.compile(r"^[0-9]{16}$")
_NIK_SEPARATORS = re.compile(r"[\s.\-]")
#: A target is done when a record of its NIK is on the device and still counts: not refused by
#: the server and not replaced by a corrected version (the fix carries the NIK it corrects to).
_DONE_MACS = (
    "SELECT DISTINCT nik_mac FROM record WHERE nik_mac IS NOT NULL "
    "AND state NOT IN ('rejected', 'superseded')"
)
_VISITS = """
    SELECT v.id, v.desa_kode, v.desa_nama, v.kecamatan_kode, v.kecamatan_nama, v.visit_date,
           v.ends_on, v.days, v.team, v.state, v.target_count, v.received_at, v.sealed
    FROM outreach_visit v ORDER BY v.visit_date, v.id
"""
_TARGETS_CONTENT = TargetsContentSchema()
PREFILL_FIELDS = ("nik", "nama", "tanggal_lahir", "jenis_kelamin", "alamat", "rt", "rw")


# -- storing and dropping ---------------------------------------------------------------------


def store_visit(outbox: Outbox, answer: dict[str, Any], now: str) -> int:
    """Store (replacing any earlier copy) a visit and its target list's box; return how many
    targets the server says it holds.

    Call inside ``outbox.atomic()``: the visit and its list arrive together or not at all.
    """
    visit = answer["visit"]
    outbox.execute("DELETE FROM outreach_visit WHERE id = ?", (visit["id"],))
    outbox.execute(
        "INSERT INTO outreach_visit (id, desa_kode, desa_nama, kecamatan_kode, kecamatan_nama, "
        "visit_date, ends_on, days, team, state, target_count, received_at, sealed) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            visit["id"],
            visit["desa_kode"],
            visit["desa_nama"],
            visit["kecamatan_kode"],
            visit["kecamatan_nama"],
            visit["visit_date"].isoformat(),
            visit["ends_on"].isoformat(),
            visit["days"],
            visit["team"],
            visit["state"],
            visit["target_count"],
            now,
            unb64(answer["sealed"]),
        ),
    )
    return int(visit["target_count"])


def drop_visit(outbox: Outbox, visit_id: str) -> bool:
    """Delete a visit and its targets; True if it was on the device. Call inside ``atomic()``."""
    cursor = outbox.execute("DELETE FROM outreach_visit WHERE id = ?", (visit_id,))
    return cursor.rowcount > 0


def drop_all(outbox: Outbox) -> int:
    """Delete every visit and its targets; return how many. Call inside ``atomic()``."""
    ids = [row["id"] for row in outbox.rows("SELECT id FROM outreach_visit")]
    return sum(drop_visit(outbox, visit_id) for visit_id in ids)


def purge_expired(outbox: Outbox, today: dt.date, now: dt.datetime | None = None) -> int:
    """Delete visits whose day after the last day is over by the local clock; return how many.

    A list received less than 24 hours ago (``now``, default the current UTC time) is kept: a
    clock running days ahead must not delete a fresh list that the feed never sends again.
    Only reads when nothing is due, so opening the client takes no write lock for nothing.
    """
    cutoff = (today - dt.timedelta(days=1)).isoformat()  # ends_on + 1 day < today
    moment = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC) - KEEP_RECEIVED
    received_before = moment.strftime("%Y-%m-%dT%H:%M:%SZ")  # as records.utc_now() writes it
    due = [
        row["id"]
        for row in outbox.rows(
            "SELECT id FROM outreach_visit WHERE ends_on < ? AND received_at < ?",
            (cutoff, received_before),
        )
    ]
    if not due:
        return 0
    with outbox.atomic():
        for visit_id in due:
            drop_visit(outbox, visit_id)
    outbox.checkpoint()
    log.info("deleted the target lists of %d finished visits", len(due))
    return len(due)


@dataclass
class Fetched:
    """Target lists fetched for one pull page, before the page is applied."""

    #: visit id -> the server's answer, or None: drop the visit (refused, or closed again).
    lists: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    usable: int = 0  # how many of the page's changes can be applied
    failure: NetworkUnavailable | None = None  # what stopped the fetching (retry next sync)
    refused: list[dict[str, Any]] = field(default_factory=list)  # {visit_id, status, code}
    #: visit id -> failed syncs in a row (see ``MAX_FETCH_FAILURES``), to store for next time.
    failures: dict[str, int] = field(default_factory=dict)


def _no_answer(exc: NetworkUnavailable) -> bool:
    """Whether the request never got an answer (no connection, timeout): retried, not counted."""
    cause = exc.__cause__
    # requests' JSONDecodeError is a RequestException too, but there the server did answer.
    return isinstance(cause, requests.RequestException) and not isinstance(cause, ValueError)


def _contract_error(exc: NetworkUnavailable) -> bool:
    """Whether the server answered with a list that breaks the API contract (no use retrying).

    A body that is not JSON at all is not one: it may have been cut short on the way.
    """
    # Transport.targets raises the "list of another visit" error without a cause; its message
    # is the only mark it has (tests/field_client/test_targets_review.py pins it).
    return isinstance(exc.__cause__, ValidationError) or "kunjungan lain" in str(exc)


def fetch_assigned(
    changes: list[dict[str, Any]],
    fetch: Callable[[str], dict[str, Any]],
    failures: dict[str, int] | None = None,
) -> Fetched:
    """Fetch the target list of every visit a page of the feed assigns.

    A network failure stops at that change (``usable``): the changes before it can be applied,
    the cursor stays before it. A refusal by the server (403 not assigned to this device, 404,
    410 over) drops that visit and goes on; it is logged without personal data. So does a list
    the server answered for but did not give in ``MAX_FETCH_FAILURES`` syncs in a row
    (``failures``, counted on in ``Fetched.failures``), or at once when its answer breaks the
    API contract; a request that got no answer at all is retried without counting.
    """
    done = Fetched(usable=len(changes), failures=dict(failures or {}))
    closed = {c.get("visit_id") for c in changes if c["kind"] == ChangeKind.OUTREACH_CLOSED}
    for index, change in enumerate(changes):
        visit_id = change.get("visit_id")
        if change["kind"] != ChangeKind.OUTREACH_ASSIGNED or not visit_id:
            continue
        if visit_id in done.lists:
            continue
        if visit_id in closed or not VISIT_ID.match(visit_id):
            done.lists[visit_id] = None  # over before it reached us, or not a visit id at all
            continue
        try:
            done.lists[visit_id] = fetch(visit_id)
        except NetworkUnavailable as exc:
            if _no_answer(exc):
                done.usable, done.failure = index, exc
                return done
            contract = _contract_error(exc)
            count = done.failures.get(visit_id, 0) + 1
            if count < MAX_FETCH_FAILURES and not contract:
                done.failures[visit_id] = count
                done.usable, done.failure = index, exc
                return done
            log.warning(
                "target list of visit %s not fetched (%s): dropped on this device",
                visit_id,
                "answer breaks the API contract" if contract else f"{count} failed syncs",
            )
            done.failures.pop(visit_id, None)
            done.lists[visit_id] = None
            done.refused.append({"visit_id": visit_id, "status": None, "code": FETCH_FAILED})
            continue
        except ServerRefused as exc:
            done.failures.pop(visit_id, None)
            log.warning(
                "target list of visit %s refused (HTTP %s, %s): dropped on this device",
                visit_id,
                exc.status,
                exc.code,
            )
            done.lists[visit_id] = None
            done.refused.append({"visit_id": visit_id, "status": exc.status, "code": exc.code})
        else:
            done.failures.pop(visit_id, None)
    return done


# -- reading ----------------------------------------------------------------------------------


def fold(text: str) -> str:
    """``text`` for comparing: accents removed, case folded, runs of spaces made one."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(char for char in decomposed if not unicodedata.combining(char))
    return " ".join(plain.casefold().split())


def listing(
    outbox: Outbox, data_key: bytes, search: str | None = None, visit_id: str | None = None
) -> list[dict[str, Any]]:
    """Targets (all visits, or one) matching ``search`` by name or NIK, each with ``done``,
    opened with the data key."""
    if visit_id is not None and not outbox.scalar(
        "SELECT 1 FROM outreach_visit WHERE id = ?", (visit_id,)
    ):
        raise UsageInvalid(
            f"Kunjungan '{visit_id}' tidak ada di perangkat ini. Daftar kunjungan: "
            "jemput-field status."
        )
    text, digits = _search_terms(search)
    done = _done_macs(outbox)
    found = []
    for visit in outbox.rows(_VISITS):
        if visit_id is not None and visit["id"] != visit_id:
            continue
        for target in _opened(visit, data_key):
            if text is not None and text not in fold(target["nama"]) and not (
                    digits is not None and digits in target["nik"]):
                continue
            mac = datakey.nik_mac(data_key, target["nik"])
            found.append({**target, "visit_id": visit["id"], "done": mac in done})
    return found


def _opened(visit: Any, data_key: bytes) -> list[dict[str, Any]]:
    """The targets of one visit row, opened with the data key, sorted by name then NIK (each
    NIK once); none when the visit has no list (yet) or it does not open."""
    if visit["sealed"] is None:
        return []
    try:
        content = _TARGETS_CONTENT.load(datakey.decrypt_json(data_key, bytes(visit["sealed"])))
    except (datakey.DataKeyError, ValidationError):
        log.warning("target list of visit %s does not open with this data key", visit["id"])
        return []
    unique = {target["nik"]: target for target in content["targets"]}
    targets = []
    for target in unique.values():
        born = target.get("tanggal_lahir")
        targets.append({key: target.get(key) for key in PREFILL_FIELDS}
                       | {"tanggal_lahir": born.isoformat() if born else None})
    return sorted(targets, key=lambda t: (fold(t["nama"]), t["nik"]))


def _done_macs(outbox: Outbox) -> set[str]:
    return {row["nik_mac"] for row in outbox.rows(_DONE_MACS)}


def _search_terms(search: str | None) -> tuple[str | None, str | None]:
    """The folded text and, when it looks like (part of) a NIK, its digits."""
    if search is None:
        return None, None
    if len(search) > MAX_SEARCH:
        raise UsageInvalid(
            f"Teks pencarian terlalu panjang ({len(search)} karakter; paling banyak {MAX_SEARCH})."
        )
    text = fold(search)
    if not text:
        raise UsageInvalid("Teks pencarian kosong. Tulis sebagian nama atau NIK.")
    digits = _NIK_SEPARATORS.sub("", text)
    is_nik = digits.isascii() and digits.isdigit()
    return text, digits if is_nik else None


def visits(outbox: Outbox, data_key: bytes | None = None) -> list[dict[str, Any]]:
    """Every visit on the device with its target count and, with the data key, how many of
    them are done (None without it)."""
    done = _done_macs(outbox) if data_key is not None else set()
    found = []
    for row in outbox.rows(_VISITS):
        visit = {key: row[key] for key in row.keys() if key != "sealed"}  # noqa: SIM118
        if data_key is None:
            visit["targets"], visit["done"] = row["target_count"], None
        else:
            opened = _opened(row, data_key)
            visit["targets"] = len(opened)
            visit["done"] = sum(datakey.nik_mac(data_key, t["nik"]) in done for t in opened)
        found.append(visit)
    return found


def prefill(outbox: Outbox, nik: str, data_key: bytes) -> dict[str, Any]:
    """Card data of target ``nik`` for a new record (desa of the visit); UsageInvalid if unknown."""
    cleaned = _NIK_SEPARATORS.sub("", nik or "")
    if not _NIK.match(cleaned):
        raise UsageInvalid(f"NIK sasaran '{nik}' tidak sah: harus 16 angka.")
    for visit in reversed(outbox.rows(_VISITS)):  # the latest visit first
        for target in _opened(visit, data_key):
            if target["nik"] == cleaned:
                found = target | {"desa_kode": visit["desa_kode"]}
                return {key: value for key, value in found.items() if value is not None}
    raise UsageInvalid(
        f"NIK {cleaned} tidak ada di daftar sasaran perangkat ini. Cari dengan: "
        "jemput-field targets --search NAMA (daftar sasaran datang lewat sync setelah kantor "
        "membuat kunjungan)."
    )
