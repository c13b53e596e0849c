"""Operators log in with their PIN offline: the PIN derives the key that unwraps the laptop's
data key (DK). A wrong PIN unwraps nothing; there is no PIN hash to check against.

Wrong PINs are counted per operator in the outbox (a restart does not reset them). Five in a
row lock that operator for 5 minutes, the next five after a lock for 15, then 60: the lock
escalates until a right PIN. While locked no PIN of that operator is tried at all. An unknown
username costs the same derivation and gets the same answer as a wrong PIN, so the login does
not tell which usernames exist.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from field_client.errors import LoginLocked, LoginRefused, NoOperators, ProfileUnsafe
from field_client.store import profile, records
from field_client.store.outbox import Outbox
from shared.pin import KdfCost, WrongPin, check_cost, derive_key, unwrap_key

MAX_PIN_FAILURES = 5
#: How long the first, second and every later lock of one operator lasts.
LOCKOUTS = (dt.timedelta(minutes=5), dt.timedelta(minutes=15), dt.timedelta(minutes=60))
_DUMMY_SALT = b"jemput-no-user!!"


@dataclass(frozen=True)
class Login:
    """Who logged in, and the device's data key their PIN unwrapped (kept in memory only)."""

    username: str
    nama: str
    data_key: bytes


def login(outbox: Outbox, username: str, pin: str, *, allow_test_cost: bool = False,
          now: dt.datetime | None = None) -> Login:
    """The operator whose PIN this is, with the data key; else a login error.

    Raises :class:`NoOperators`, :class:`LoginLocked` (also on the failure that locks) or
    :class:`LoginRefused` (with the tries left before the lock).
    """
    moment = now or dt.datetime.now(dt.UTC)
    name = (username if isinstance(username, str) else "").strip().lower()[:64]
    # The check and the count happen under the write lock: parallel guesses queue up and
    # each one is counted before the next is checked.
    with outbox.atomic():
        reference = profile.any_cost(outbox)
        if reference is None:
            raise NoOperators()
        failures, lockouts, until = _state(outbox, name, moment)
        if until is not None:
            raise LoginLocked(until)
        _check_costs(outbox, allow_test_cost)
        data_key = _unwrap(outbox, name, pin, reference)
        if data_key is not None:
            outbox.execute("DELETE FROM login_lock WHERE username = ?", (name,))
            return Login(name, profile.nama_of(outbox, data_key, name), data_key)
        failures += 1
        error: Exception
        if failures >= MAX_PIN_FAILURES:
            locked = moment + LOCKOUTS[min(lockouts, len(LOCKOUTS) - 1)]
            _save(outbox, name, 0, lockouts + 1, records.format_utc(locked))
            error = LoginLocked(locked)
        else:
            _save(outbox, name, failures, lockouts, None)
            remaining = MAX_PIN_FAILURES - failures
            error = LoginRefused(
                f"Operator atau PIN salah. Sisa percobaan: {remaining}.", remaining
            )
    raise error  # after the commit: the failure stays counted


def _check_costs(outbox: Outbox, allow_test_cost: bool) -> None:
    """:class:`ProfileUnsafe` when any stored wrap asks for a derivation below the floor: a
    cheap key would make this laptop cheap to crack, so it is not used (and nothing counted)."""
    for cost in profile.costs(outbox):
        try:
            check_cost(cost, allow_test=allow_test_cost)
        except ValueError:
            raise ProfileUnsafe() from None


def _unwrap(outbox: Outbox, name: str, pin: str, reference: KdfCost) -> bytes | None:
    """The data key when ``pin`` unwraps ``name``'s wrap; None otherwise (same cost either way)."""
    found = profile.operator_key(outbox, name)
    salt, cost, wrap = found if found else (_DUMMY_SALT, reference, b"")
    try:
        key = derive_key(pin if isinstance(pin, str) else "", salt, cost)
    except ValueError:  # not eight digits (InvalidPin): a wrong PIN, at the same cost
        derive_key("00000000", salt, cost)
        return None
    if found is None:
        return None
    try:
        return unwrap_key(wrap, key)
    except WrongPin:
        return None


def lock_state(outbox: Outbox, username: str,
               now: dt.datetime | None = None) -> dict[str, object]:
    """``{failures, locked_until}`` of one operator: wrong PINs in a row, and until when (ISO
    UTC) it is locked."""
    name = (username or "").strip().lower()
    failures, _, until = _state(outbox, name, now or dt.datetime.now(dt.UTC))
    return {"failures": failures,
            "locked_until": None if until is None else records.format_utc(until)}


def _state(outbox: Outbox, name: str, now: dt.datetime) -> tuple[int, int, dt.datetime | None]:
    """Failures counted since the last lock, locks so far, and the lock's end while it holds."""
    rows = outbox.rows("SELECT failures, lockouts, locked_until FROM login_lock "
                       "WHERE username = ?", (name,))
    if not rows:
        return 0, 0, None
    row = rows[0]
    # A damaged time reads as run out: a lock nothing could ever lift is worse.
    until = records.parse_utc(row["locked_until"])
    if until is not None and now < until:
        return MAX_PIN_FAILURES, int(row["lockouts"]), until
    return int(row["failures"]), int(row["lockouts"]), None


def _save(outbox: Outbox, name: str, failures: int, lockouts: int,
          locked_until: str | None) -> None:
    outbox.execute(
        "INSERT INTO login_lock (username, failures, lockouts, locked_until) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (username) DO UPDATE SET failures = excluded.failures, "
        "lockouts = excluded.lockouts, locked_until = excluded.locked_until",
        (name, failures, lockouts, locked_until))
