"""Office pages for the Suket: issue, renew, reprint, valid and expiring (on ``auth.bp``)."""

from __future__ import annotations

from server.web.auth import bp  # noqa: F401  (the office blueprint the routes join)
