"""What sync announces to the domains above it, once its own transaction has committed.

Sync sits below review in the layers, so it never calls the checks itself: it sends a signal
(blinker, as Flask's own signals) and review connects its receivers for its app in
``server.review.init_app``. A receiver that fails never fails the push or upload that sent
the signal: what it did not do is left to ``jemput-server run-checks``.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from typing import Any

from blinker import NamedSignal, Namespace
from flask import current_app

from server.core.extensions import db

log = logging.getLogger(__name__)
_signals = Namespace()

#: Records became ``complete`` (``record_ids``); ``pushed_by``: the device whose push just
#: stored or refused records, so its sequence gaps are looked at too (or None).
records_completed = _signals.signal("records-completed")
#: New versions replaced these records (``record_ids``) in a push.
records_replaced = _signals.signal("records-replaced")


def announce(signal: NamedSignal, record_ids: Collection[str], **extra: Any) -> None:
    """Send ``signal`` for this app's receivers; a receiver's failure is logged, not raised."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    try:
        signal.send(app, record_ids=record_ids, **extra)
    except Exception as exc:  # what failed stays for run-checks; the caller already committed
        db.session.rollback()
        log.error("%s receiver failed for %d record(s): %s", signal.name, len(record_ids),
                  type(exc).__name__)
