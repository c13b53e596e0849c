"""Review: the checks of every complete record, the cases they open, and the office's decisions.

Also the office's dashboard, review queue, records list and record page (HTML and JSON), and
``jemput-server run-checks`` / ``verify-audit``.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Check records as sync completes them; close the cases of records it replaced."""
    from server.review import checks, decisions
    from server.sync import signals

    signals.records_completed.connect(checks.check_completed, sender=app)
    signals.records_replaced.connect(decisions.clear_replaced, sender=app)
