"""Office pages for coverage: who is recorded, per kecamatan and desa (routes on ``auth.bp``)."""

from __future__ import annotations

from server.web.auth import bp  # noqa: F401  (the office blueprint the routes join)
