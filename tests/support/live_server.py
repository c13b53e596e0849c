"""The real server app for the field client's tests: served on loopback, with office helpers.

The ``live_server`` fixture (tests/field_client/conftest.py) serves it in a thread over a fresh
SQLite copy; :class:`LiveServer` then acts as the office would (registration codes, revoking a
device, sending a record back, adding an operator).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from flask import Flask
from sqlalchemy import select


@dataclass
class LiveServer:
    """The real Flask server on a loopback port, with helpers that act as the office."""

    url: str
    app: Flask

    def registration_code(self, team: str = "TIM-1") -> str:
        """A fresh one-time device registration code."""
        from server.accounts.devices import create_registration_code

        with self.app.app_context():
            return create_registration_code(team)

    def revoke(self, device_id: str) -> None:
        """Revoke a device's token."""
        from server.accounts.devices import revoke_device

        with self.app.app_context():
            revoke_device(device_id)

    def enrollment_ids(self) -> list[str]:
        """Ids of every stored enrollment (one row per record, never two)."""
        from server.core.extensions import db
        from server.core.models import Enrollment

        with self.app.app_context():
            return list(db.session.execute(select(Enrollment.id)).scalars())

    def status_change(self, device_id: str, record_id: str, state: str, reason: str) -> None:
        """Put a ``record_status`` entry in the device's pull feed, as an office review would."""
        from server.core.extensions import db
        from server.core.models import Change

        with self.app.app_context():
            db.session.add(
                Change(
                    device_id=device_id,
                    kind="record_status",
                    record_id=record_id,
                    state=state,
                    reason=reason,
                    created_at=dt.datetime.now(dt.UTC),
                )
            )
            db.session.commit()


def add_operator(live_server: Any, username: str, team: str) -> str:
    """Create a field operator on the live server (its PIN key at the test cost); its PIN."""
    from server.accounts.operators import create_operator

    with live_server.app.app_context():
        return create_operator(username, team, "Siti Operator")
