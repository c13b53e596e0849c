"""The device's side of outreach: the target list of a visit assigned to it."""

from __future__ import annotations

from flask import Blueprint

from shared.protocol import API_PREFIX

bp = Blueprint("outreach", __name__, url_prefix=f"{API_PREFIX}/outreach")
