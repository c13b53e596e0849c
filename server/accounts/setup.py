"""First-run setup: database schema, reference regions, the first admin."""

from __future__ import annotations

from dataclasses import dataclass

import flask_migrate

from server.accounts.users import ensure_admin
from server.registry.regions import ImportReport, seed_sekadau


@dataclass(frozen=True)
class SetupReport:
    """What ``jemput-server init`` did."""

    regions: ImportReport
    admin_password: str | None  # None when the admin existed already


def initialize() -> SetupReport:
    """Create or upgrade the schema, load the Sekadau regions, create the admin once."""
    flask_migrate.upgrade()
    return SetupReport(regions=seed_sekadau(), admin_password=ensure_admin())
