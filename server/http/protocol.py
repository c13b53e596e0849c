"""The protocol version every device request names: ``Jemput-Protocol: 2``.

The device blueprints (registration, profile, sync, uploads, target lists) register
:func:`require_protocol` as their first ``before_request``: it runs before authentication and
before the body is read, so an older field client's push stores nothing, its queue stays whole,
and it is told to update. The office API, ``/healthz`` and the OpenAPI document do not ask.
"""

from __future__ import annotations

from flask import Blueprint, request

from server.core.errors import ClientOutdated
from shared.protocol import PROTOCOL_HEADER, PROTOCOL_VERSION

#: The ``Upgrade`` header of a 426 (RFC 9110 15.5.22). Gunicorn drops hop-by-hop headers such as
#: this one; a client decides by the problem's code, ``client_outdated``.
UPGRADE = f"{PROTOCOL_HEADER}/{PROTOCOL_VERSION}"


def require_protocol() -> None:
    """426 ``client_outdated`` unless the request names this protocol version.

    ``OPTIONS`` only tells capabilities (tus discovery answers without a token) and is let by.
    """
    if request.method == "OPTIONS":
        return
    named = request.headers.get(PROTOCOL_HEADER, "").strip()
    if named != str(PROTOCOL_VERSION):
        sent = f"versi {named[:16]}" if named else f"tanpa header {PROTOCOL_HEADER}"
        raise ClientOutdated(
            f"Aplikasi lapangan ini memakai protokol lama ({sent}); server memerlukan "
            f"{PROTOCOL_HEADER}: {PROTOCOL_VERSION}. Perbarui jemput-field di laptop ini, lalu "
            "kirim lagi: tidak ada data yang disimpan dan antrean di laptop tetap utuh.",
            headers={"Upgrade": UPGRADE},
        )


def device_protocol(bp: Blueprint) -> Blueprint:
    """Make :func:`require_protocol` the first check of every request to ``bp``."""
    bp.before_request(require_protocol)
    return bp
