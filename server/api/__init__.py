"""HTTP API blueprints: thin views over the service layer."""

from __future__ import annotations

from flask import Flask

from server.accounts import api as devices
from server.accounts import profile_api as device_profile
from server.api import (  # noqa: F401  (office_*: routes on office.bp)
    office_blanko,
    office_coverage,
    office_outreach,
    office_suket,
    outreach,
    verify,
)
from server.http import health, openapi
from server.review import api as office
from server.sync import api as sync
from server.sync.uploads import api as uploads


def init_app(app: Flask) -> None:
    """Register every blueprint."""
    for blueprint in (health.bp, devices.bp, device_profile.bp, sync.bp, uploads.bp, office.bp,
                      outreach.bp, verify.bp, openapi.bp):
        app.register_blueprint(blueprint)
