"""Office pages for blank cards and printing: stock, forecast, print queue (on ``auth.bp``)."""

from __future__ import annotations

from server.web.auth import bp  # noqa: F401  (the office blueprint the routes join)
