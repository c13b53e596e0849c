"""``GET /verify/<token>``: anyone holding a Suket's QR code checks it (no login, minimal data)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("verify", __name__)
