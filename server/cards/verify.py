"""``GET /verify/<token>``: anyone holding a Suket's QR code checks it (no login, minimal data).

The answer says only whether the Suket is valid, expired or superseded by a printed card, with
the masked name, the NIK's last four digits, the number and the dates. Any token this office
did not issue (forged, altered, malformed, unknown) is the same 404, without saying why.
Never cached, never indexed.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, make_response, render_template, request

from server.cards import suket
from server.core.errors import NotFound

bp = Blueprint("verify", __name__, template_folder="templates")
HEADERS = {"Cache-Control": "no-store", "X-Robots-Tag": "noindex, nofollow",
           "Referrer-Policy": "no-referrer"}
UNKNOWN = "Suket dengan kode ini tidak dikenal."
STATUS_TITLES = {"valid": "BERLAKU", "expired": "KEDALUWARSA", "superseded": "DIGANTI KTP-EL"}

def _wants_json() -> bool:
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


@bp.get("/verify/<token>")
def verify(token: str) -> Any:
    """Check a Suket from its QR code: valid, expired or superseded (no login)."""
    found = suket.verify(token)
    if found is None:
        if _wants_json():
            raise NotFound(UNKNOWN, headers=HEADERS)
        return _with_headers(make_response(
            render_template("cards/verify.html", found=None, message=UNKNOWN), 404))
    if _wants_json():
        body = {"status": found.status, "number": found.number, "nama": found.nama,
                "nik_last4": found.nik_last4, "issued_on": found.issued_on.isoformat(),
                "expires_on": found.expires_on.isoformat(),
                "superseded_on": found.superseded_on.isoformat()
                if found.superseded_on else None}
        return _with_headers(make_response(body, 200))
    return _with_headers(make_response(render_template(
        "cards/verify.html", found=found, title=STATUS_TITLES[found.status]), 200))


def _with_headers(response: Response) -> Response:
    response.headers.update(HEADERS)
    response.vary.add("Accept")
    return response
