"""The device profile: who may log in on this laptop, and (under the data key) its team's
names and the desa its form offers.

The server sends it whole (``GET /api/v1/device/profile``); it replaces the stored one in ONE
transaction, so the operator list is never half old, half new. In clear the laptop keeps only,
per operator, the wrap of the device's data key (DK) under the key the operator's PIN derives
(``shared.pin``): no PIN hash. The names and the desa are a DK box (meta ``profile_sealed``),
readable once an operator has logged in.
"""

from __future__ import annotations

from typing import Any

from field_client.store import records
from field_client.store.keys import OFFICE_KEY_ID_META, OFFICE_KEY_META
from field_client.store.outbox import Outbox
from shared import datakey
from shared.pin import KdfCost
from shared.sealing import unb64

VERSION_META = "profile_version"
FETCHED_META = "profile_fetched_at"
SEALED_META = "profile_sealed"
_META = (VERSION_META, FETCHED_META, SEALED_META)


def store(outbox: Outbox, document: dict[str, Any], now: str | None = None) -> None:
    """Replace the operators' wraps, the sealed profile and its meta with ``document`` (one
    transaction). ``document`` is a ``DeviceProfileSchema`` answer, already checked."""
    with outbox.atomic():
        outbox.execute("DELETE FROM operator_key")
        outbox.executemany(
            "INSERT OR REPLACE INTO operator_key (username, salt, opslimit, memlimit, wrap) "
            "VALUES (?, ?, ?, ?, ?)",
            [(op["username"].strip().lower(), op["salt"], op["opslimit"], op["memlimit"],
              op["wrap"]) for op in document["operators"]],
        )
        outbox.set_meta(SEALED_META, document["sealed"])
        outbox.set_meta(VERSION_META, document["version"])
        outbox.set_meta(FETCHED_META, now or records.utc_now())
        outbox.set_meta(OFFICE_KEY_ID_META, document["office_key"]["kid"])
        outbox.set_meta(OFFICE_KEY_META, document["office_key"]["public"])


def drop(outbox: Outbox) -> None:
    """Forget the profile (a new registration gets its own); call inside ``outbox.atomic()``."""
    outbox.execute("DELETE FROM operator_key")
    outbox.execute("DELETE FROM login_lock")
    for key in _META:
        outbox.set_meta(key, None)


def usernames(outbox: Outbox) -> list[str]:
    """The operators who may log in here (their usernames: the names are under the data key)."""
    return [row["username"]
            for row in outbox.rows("SELECT username FROM operator_key ORDER BY username")]


def operator_key(outbox: Outbox, username: str) -> tuple[bytes, KdfCost, bytes] | None:
    """(salt, Argon2id cost, wrap) of ``username``'s PIN key, or None when unknown."""
    rows = outbox.rows("SELECT salt, opslimit, memlimit, wrap FROM operator_key "
                       "WHERE username = ?", ((username or "").strip().lower(),))
    if not rows:
        return None
    row = rows[0]
    return (unb64(row["salt"]), KdfCost(int(row["opslimit"]), int(row["memlimit"])),
            unb64(row["wrap"]))


def any_cost(outbox: Outbox) -> KdfCost | None:
    """The cost of some operator's key (an unknown username must cost the same), or None."""
    rows = outbox.rows("SELECT opslimit, memlimit FROM operator_key ORDER BY username LIMIT 1")
    return KdfCost(int(rows[0]["opslimit"]), int(rows[0]["memlimit"])) if rows else None


def costs(outbox: Outbox) -> set[KdfCost]:
    """The Argon2id costs the stored wraps ask for."""
    return {KdfCost(int(row["opslimit"]), int(row["memlimit"]))
            for row in outbox.rows("SELECT DISTINCT opslimit, memlimit FROM operator_key")}


def content(outbox: Outbox, data_key: bytes) -> dict[str, Any]:
    """``{team, kecamatan, desa, operators: [{username, nama}]}`` opened with the data key."""
    sealed = outbox.get_meta(SEALED_META)
    if not sealed:
        return {"team": None, "kecamatan": None, "desa": [], "operators": []}
    document: dict[str, Any] = datakey.decrypt_json(data_key, unb64(sealed))
    return document


def nama_of(outbox: Outbox, data_key: bytes, username: str) -> str:
    """The operator's name (their username when the profile does not name them)."""
    for op in content(outbox, data_key)["operators"]:
        if op["username"] == username:
            return str(op["nama"])
    return username


def desa_choices(outbox: Outbox, data_key: bytes) -> list[dict[str, str]]:
    """The profile's desa plus those of the outreach visits on the device, by kode, once each.

    A visit assigned after the last profile fetch still shows its desa on the form.
    """
    seen = {d["kode"]: d["nama"] for d in content(outbox, data_key)["desa"]}
    for row in outbox.rows("SELECT desa_kode, desa_nama FROM outreach_visit"):
        seen.setdefault(row["desa_kode"], row["desa_nama"])
    return [{"kode": kode, "nama": seen[kode]} for kode in sorted(seen)]


def summary(outbox: Outbox) -> dict[str, Any]:
    """``{version, fetched_at, operators}`` (how many may log in), without the data key."""
    meta = outbox.meta()
    return {
        "version": meta.get(VERSION_META),
        "fetched_at": meta.get(FETCHED_META),
        "operators": int(outbox.scalar("SELECT count(*) FROM operator_key")),
    }
