"""Failed office logins slow the next tries down, per user name and per client address.

Counted in the database (``login_failure``), so every process and host applies the same delay.
The throttle is a delay, never a lock: whoever mistypes, or whoever tries someone else's name,
makes that name's next login wait a little longer (at most ``MAX_DELAY`` seconds), but the real
user still gets in with the right password. Only an address that failed very often
(``ADDRESS_LIMIT`` within ``WINDOW``) is refused for a while: that is the trier's own address,
which counts real clients only when the forwarded headers come from a trusted proxy
(``JEMPUT_TRUSTED_PROXIES``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from server.core.errors import TooManyAttempts
from server.core.extensions import db
from server.core.models import LoginFailure
from server.core.timeutil import utcnow

#: Failures older than this are forgotten.
WINDOW = dt.timedelta(minutes=15)
#: Failures a name or an address may have before its next try waits.
FREE_FAILURES = 3
#: The longest wait a try gets (seconds).
MAX_DELAY = 8.0
#: Failures within the window after which an address is refused until the window passes.
ADDRESS_LIMIT = 50


def _key(kind: str, value: str) -> str:
    return hashlib.sha256(f"{kind}:{value}".encode()).hexdigest()


def _keys(username: str, address: str | None) -> list[str]:
    keys = [_key("user", username.strip().lower())]
    if address:
        keys.append(_key("addr", address))
    return keys


def delay_for(failures: int) -> float:
    """Seconds the next try waits after ``failures`` recent failures: 0 for the first few,
    then 1, 2, 4, ... up to ``MAX_DELAY``."""
    if failures < FREE_FAILURES:
        return 0.0
    return float(min(MAX_DELAY, math.pow(2, failures - FREE_FAILURES)))


def before_attempt(username: str, address: str | None) -> float:
    """How long this try must wait (the larger of its name's and its address's delay);
    :class:`TooManyAttempts` when its address failed too often."""
    now = utcnow()
    counts = _recent(_keys(username, address), now)
    db.session.commit()
    if address and counts.get(_key("addr", address), 0) >= ADDRESS_LIMIT:
        raise TooManyAttempts(
            "Terlalu banyak login gagal dari alamat ini. Coba lagi dalam 15 menit.",
            retry_after=int(WINDOW.total_seconds()))
    return max((delay_for(count) for count in counts.values()), default=0.0)


def record_failure(username: str, address: str | None) -> None:
    """Count a failed login against its name and its address (once more when another process
    made the same counter at the same moment)."""
    for attempt in range(2):
        now = utcnow()
        for key in _keys(username, address):
            row = db.session.get(LoginFailure, key, with_for_update=True)
            if row is None:
                db.session.add(LoginFailure(key=key, failures=1, first_at=now, last_at=now))
            elif now - row.last_at > WINDOW:
                row.failures, row.first_at, row.last_at = 1, now, now
            else:
                row.failures, row.last_at = row.failures + 1, now
        try:
            db.session.commit()
            return
        except IntegrityError:
            db.session.rollback()
            if attempt:
                raise


def succeeded(username: str) -> None:
    """A right password: the name's count starts again (the address's does not)."""
    row = db.session.get(LoginFailure, _key("user", username.strip().lower()))
    if row is not None:
        db.session.delete(row)
    db.session.commit()


def _recent(keys: list[str], now: dt.datetime) -> dict[str, int]:
    rows = db.session.execute(select(LoginFailure).where(LoginFailure.key.in_(keys))).scalars()
    return {row.key: row.failures for row in rows if now - row.last_at <= WINDOW}
