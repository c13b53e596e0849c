"""The device profile: who may log in on this laptop and which desa its form offers.

The server sends it whole (``GET /api/v1/device/profile``); it replaces the stored one in ONE
transaction, so the operator list is never half old, half new. Operators' PINs are kept only as
the server's slow hashes (``shared.pin``) and never leave this module except for checking.
"""

from __future__ import annotations

from typing import Any

from field_client.store import records
from field_client.store.outbox import Outbox

VERSION_META = "profile_version"
FETCHED_META = "profile_fetched_at"
KECAMATAN_KODE_META = "kecamatan_kode"
KECAMATAN_NAMA_META = "kecamatan_nama"
_META = (VERSION_META, FETCHED_META, KECAMATAN_KODE_META, KECAMATAN_NAMA_META)


def store(outbox: Outbox, document: dict[str, Any], now: str | None = None) -> None:
    """Replace the operators, the desa and the profile's meta with ``document`` (one transaction).

    ``document`` is a ``DeviceProfileSchema`` answer, already checked.
    """
    kecamatan = document.get("kecamatan") or {}
    with outbox.atomic():
        _delete(outbox)
        outbox.executemany(
            "INSERT OR REPLACE INTO operator (username, nama, pin_hash) VALUES (?, ?, ?)",
            [
                (op["username"].strip().lower(), op["nama"], op["pin_hash"])
                for op in document["operators"]
            ],
        )
        outbox.executemany(
            "INSERT OR REPLACE INTO desa (kode, nama) VALUES (?, ?)",
            [(desa["kode"], desa["nama"]) for desa in document["desa"]],
        )
        outbox.set_meta(VERSION_META, document["version"])
        outbox.set_meta(FETCHED_META, now or records.utc_now())
        outbox.set_meta(KECAMATAN_KODE_META, kecamatan.get("kode"))
        outbox.set_meta(KECAMATAN_NAMA_META, kecamatan.get("nama"))


def drop(outbox: Outbox) -> None:
    """Forget the profile (a new registration gets its own); call inside ``outbox.atomic()``."""
    _delete(outbox)
    for key in _META:
        outbox.set_meta(key, None)


def _delete(outbox: Outbox) -> None:
    outbox.execute("DELETE FROM operator")
    outbox.execute("DELETE FROM desa")


def operators(outbox: Outbox) -> list[dict[str, str]]:
    """The operators who may log in here, by username (no PIN hashes)."""
    rows = outbox.rows("SELECT username, nama FROM operator ORDER BY username")
    return [{"username": row["username"], "nama": row["nama"]} for row in rows]


def pin_hash(outbox: Outbox, username: str) -> str | None:
    """The stored PIN hash of ``username`` (case-insensitive), or None."""
    value = outbox.scalar(
        "SELECT pin_hash FROM operator WHERE username = ?", ((username or "").strip().lower(),)
    )
    return None if value is None else str(value)


def any_pin_hash(outbox: Outbox) -> str | None:
    """Some operator's PIN hash (its cost is what an unknown username must cost too), or None."""
    value = outbox.scalar("SELECT pin_hash FROM operator ORDER BY username LIMIT 1")
    return None if value is None else str(value)


def desa(outbox: Outbox) -> list[dict[str, str]]:
    """The desa of the profile, by kode."""
    rows = outbox.rows("SELECT kode, nama FROM desa ORDER BY kode")
    return [{"kode": row["kode"], "nama": row["nama"]} for row in rows]


def desa_choices(outbox: Outbox) -> list[dict[str, str]]:
    """The profile's desa plus those of the outreach visits on the device, by kode, once each.

    A visit assigned after the last profile fetch still shows its desa on the form.
    """
    rows = outbox.rows(
        "SELECT kode, nama FROM desa UNION "
        "SELECT desa_kode, desa_nama FROM outreach_visit "
        "WHERE desa_kode NOT IN (SELECT kode FROM desa) ORDER BY 1"
    )
    seen: dict[str, str] = {}
    for row in rows:
        seen.setdefault(row[0], row[1])
    return [{"kode": kode, "nama": nama} for kode, nama in seen.items()]


def summary(outbox: Outbox) -> dict[str, Any]:
    """``{version, fetched_at, kecamatan_kode, kecamatan_nama, operators, desa}`` (counts)."""
    meta = outbox.meta()
    return {
        "version": meta.get(VERSION_META),
        "fetched_at": meta.get(FETCHED_META),
        "kecamatan_kode": meta.get(KECAMATAN_KODE_META),
        "kecamatan_nama": meta.get(KECAMATAN_NAMA_META),
        "operators": int(outbox.scalar("SELECT count(*) FROM operator")),
        "desa": int(outbox.scalar("SELECT count(*) FROM desa")),
    }
