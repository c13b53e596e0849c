"""Operators log in to the web app with their PIN, checked offline against the profile's hashes.

Wrong PINs are counted per device in the outbox (a restart does not reset them); the fifth in a
row locks the login for :data:`LOCKOUT`, during which no PIN is checked at all. An unknown
username costs the same time and gets the same answer as a wrong PIN (a dummy hash is checked),
so the login does not tell which usernames exist.
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any

from field_client.errors import LoginLocked, LoginRefused, NoOperators
from field_client.store import profile, records
from field_client.store.outbox import Outbox
from shared.pin import DEFAULT_ITERATIONS, hash_pin, verify_pin

MAX_PIN_FAILURES = 5
LOCKOUT = dt.timedelta(minutes=5)
FAILURES_META = "ui_pin_failures"
LOCKED_UNTIL_META = "ui_locked_until"


def login(
    outbox: Outbox, username: str, pin: str, now: dt.datetime | None = None
) -> dict[str, str]:
    """``{username, nama}`` of the operator whose PIN this is; else a login error.

    Raises :class:`NoOperators`, :class:`LoginLocked` (also on the failure that locks) or
    :class:`LoginRefused` (with the tries left before the lock).
    """
    moment = now or dt.datetime.now(dt.UTC)
    name = (username if isinstance(username, str) else "").strip().lower()
    # The check and the count happen under the write lock: parallel guesses queue up and
    # each one is counted before the next is checked.
    with outbox.atomic():
        reference = profile.any_pin_hash(outbox)
        if reference is None:
            raise NoOperators()
        failures, until = _state(outbox, moment)
        if until is not None:
            raise LoginLocked(until)
        if outbox.get_meta(LOCKED_UNTIL_META):  # a lock that ran out: count afresh from 0
            outbox.set_meta(LOCKED_UNTIL_META, None)
            outbox.set_meta(FAILURES_META, None)
        stored = profile.pin_hash(outbox, name)
        good = verify_pin(pin, stored or _dummy_hash(_iterations(reference)))
        if good and stored is not None:
            outbox.set_meta(FAILURES_META, None)
            outbox.set_meta(LOCKED_UNTIL_META, None)
            nama = outbox.scalar("SELECT nama FROM operator WHERE username = ?", (name,))
            return {"username": name, "nama": str(nama)}
        failures += 1
        outbox.set_meta(FAILURES_META, failures)
        if failures >= MAX_PIN_FAILURES:
            locked = moment + LOCKOUT
            outbox.set_meta(LOCKED_UNTIL_META, records.format_utc(locked))
            error: Exception = LoginLocked(locked)
        else:
            remaining = MAX_PIN_FAILURES - failures
            error = LoginRefused(
                f"Operator atau PIN salah. Sisa percobaan: {remaining}.", remaining
            )
    raise error  # after the commit: the failure stays counted


def lock_state(outbox: Outbox, now: dt.datetime | None = None) -> dict[str, Any]:
    """``{failures, locked_until}``: wrong PINs in a row, and until when (ISO UTC) it is locked."""
    failures, until = _state(outbox, now or dt.datetime.now(dt.UTC))
    return {
        "failures": failures,
        "locked_until": None if until is None else records.format_utc(until),
    }


def _state(outbox: Outbox, now: dt.datetime) -> tuple[int, dt.datetime | None]:
    """Failures counted so far (0 again once a lock ran out) and the lock's end while it holds."""
    # A damaged time reads as run out: a lock nothing could ever lift is worse.
    until = records.parse_utc(outbox.get_meta(LOCKED_UNTIL_META))
    if until is not None and now < until:
        return MAX_PIN_FAILURES, until
    if until is not None:
        return 0, None  # the lock ran out: a fresh set of tries
    try:
        failures = int(outbox.get_meta(FAILURES_META) or 0)
    except ValueError:
        failures = MAX_PIN_FAILURES - 1  # a damaged counter grants one more try, no more
    return max(0, failures), None


def _iterations(encoded: str) -> int:
    parts = encoded.split("$")
    try:
        return int(parts[1])
    except (IndexError, ValueError):
        return DEFAULT_ITERATIONS


@functools.lru_cache(maxsize=8)
def _dummy_hash(iterations: int) -> str:
    """A hash no PIN is known to match, as slow as the device's real ones."""
    return hash_pin("000000", iterations=max(1, min(iterations, 5_000_000)), salt=b"jemput-dummy")
