"""Fetching the device profile (operators' wraps, the office key, the data key's box of names
and desa): after registering, on every sync, and before the upgrade of an old queue."""

from __future__ import annotations

import logging

from field_client.errors import NetworkUnavailable, ServerRefused
from field_client.store import profile
from field_client.store.outbox import Outbox
from field_client.sync.report import SyncReport
from field_client.sync.transport import Transport

log = logging.getLogger(__name__)


def fetch_profile(outbox: Outbox, transport: Transport, report: SyncReport | None = None) -> bool:
    """Ask for the device profile (with the stored version as ETag); store it when it changed.

    True when a new profile was stored. The network, a refusal or an answer off the contract
    only note ``report.profile_error`` (the old profile stays); a revoked device still raises.
    """
    try:
        document = transport.profile(outbox.get_meta(profile.VERSION_META))
    except (NetworkUnavailable, ServerRefused) as exc:
        log.warning("device profile not fetched: %s", exc.message)
        if report is not None:
            report.profile_error = (
                f"Profil perangkat (operator, desa) tidak diperbarui: {exc.message}"
            )
        return False
    if document is None:
        return False  # unchanged (304)
    profile.store(outbox, document)
    if report is not None:
        report.profile_updated = True
    return True
