"""Office pages for outreach planning: the ranking, visits and their progress (on ``auth.bp``)."""

from __future__ import annotations

from server.web.auth import bp  # noqa: F401  (the office blueprint the routes join)
