"""What a failed HTTP exchange means: only the Jemput server itself can refuse.

Whatever goes wrong on the way (refused connection, timeout, cut body, 5xx, 408/423/429, or an
error that is not a Jemput problem+json, such as a hotspot login page) means "outcome unknown":
:class:`NetworkUnavailable`.
"""

from __future__ import annotations

from typing import Any

import requests

from field_client.errors import (
    ClientOutdated,
    DeviceRevoked,
    FieldClientError,
    NetworkUnavailable,
    PayloadTooLarge,
    ServerRefused,
)
from shared import problems
from shared.protocol import PROBLEM_MEDIA_TYPE

#: Statuses that mean "not now" whoever sends them (request timeout, locked, too many requests).
TEMPORARY_STATUSES = frozenset({408, 423, 429})
#: A request body over a limit of the server's.
TOO_LARGE = frozenset({problems.PAYLOAD_TOO_LARGE.code, problems.TOO_MANY_RECORDS.code,
                       problems.UPLOAD_TOO_LARGE.code})
REVOKED = (
    "Server menolak perangkat ini (token tidak berlaku atau dicabut). Minta kode baru ke kantor "
    "lalu daftar ulang: jemput-field register --force ... Rekaman tetap aman di antrean."
)
TOKEN_EXPIRED = (
    "Token perangkat ini kedaluwarsa karena lama tidak dipakai. Rekaman di antrean tetap "
    "terkirim; untuk status, daftar sasaran dan profil, minta kode baru ke kantor lalu daftar "
    "ulang: jemput-field register --force ..."
)


def network_message(server: str, exc: requests.RequestException) -> str:
    """The operator's sentence for a request that got no answer."""
    if isinstance(exc, requests.Timeout):
        what = "tidak menjawab tepat waktu"
    elif isinstance(exc, requests.exceptions.SSLError):
        what = "gagal diverifikasi (sertifikat HTTPS)"
    elif isinstance(exc, requests.ConnectionError):
        what = "tidak dapat dihubungi atau sambungan terputus"
    else:
        what = "gagal dihubungi"
    return (
        f"Server {server} {what}. Belum pasti apakah kiriman terakhir sampai; rekaman tetap "
        "aman di antrean dan akan dikirim ulang nanti."
    )


def http_error(response: requests.Response) -> FieldClientError:
    """The error an HTTP status >= 400 means; only a Jemput problem+json can be a refusal.

    A Jemput answer is read by its problem ``code`` (``shared.problems``); an answer from
    anyone else (a proxy, a hotspot) has none, and only its status says anything.
    """
    status = response.status_code
    problem = jemput_problem(response)
    if status >= 500:
        who = "Server" if problem is not None else "Server atau perantaranya (proxy/gateway)"
        return NetworkUnavailable(
            f"{who} sedang bermasalah (HTTP {status}). Rekaman tetap aman di antrean; coba "
            "lagi nanti."
        )
    code = problems.code_of(problem["code"], status) if problem is not None else None
    if code in TOO_LARGE or (problem is None and status == 413):
        # A reverse proxy's body limit answers 413 in HTML, and the sync engine must still
        # halve the batch (and at one record keep it ready) instead of stopping the whole
        # queue behind one large record.
        who = "server" if problem is not None else "server atau proxy di depannya"
        return PayloadTooLarge(
            f"Kiriman terlalu besar untuk batas ukuran {who} (HTTP 413): "
            f"{detail(problem, response)}",
            status=status,
            code=code,
            problem=problem or {},
        )
    if problem is None:
        # A hotspot login page, a captive portal, a proxy asking for credentials, a web
        # server at the wrong address: whoever answered, it was not the Jemput API, so its
        # "no" says nothing about the device or the records.
        return NetworkUnavailable(
            f"Jaringan meminta login (hotspot/portal) atau server lain menjawab (HTTP {status}), "
            "bukan server Jemput. Rekaman tetap aman di antrean; bila perlu login dulu ke "
            "jaringan (buka peramban), lalu sinkron lagi."
        )
    if code in problems.TRY_AGAIN_LATER or status in TEMPORARY_STATUSES:
        return NetworkUnavailable(
            f"Server sedang sibuk (HTTP {status}). Rekaman tetap aman di antrean dan akan "
            "dikirim ulang nanti."
        )
    if code == problems.UNAUTHORIZED.code:
        return DeviceRevoked(REVOKED)
    if code == problems.TOKEN_EXPIRED.code:
        return DeviceRevoked(TOKEN_EXPIRED)
    if code == problems.CLIENT_OUTDATED.code:
        return ClientOutdated()
    return ServerRefused(
        f"Server menolak permintaan (HTTP {status}): {detail(problem, response)}",
        status=status,
        code=problem["code"],
        problem=problem,
    )


def jemput_problem(response: requests.Response) -> dict[str, Any] | None:
    """The body as a Jemput problem, or None when it is not one.

    A Jemput problem is ``application/problem+json`` holding an object with a string ``code``
    (every error of the Jemput server has one); anything else came from someone else.
    """
    media_type = response.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
    if media_type != PROBLEM_MEDIA_TYPE:
        return None
    try:
        data = response.json()
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("code"), str) or not data["code"]:
        return None
    return data


def detail(problem: dict[str, Any] | None, response: requests.Response) -> str:
    """The problem's detail (or title, or the HTTP reason) for a message."""
    problem = problem or {}
    return str(problem.get("detail") or problem.get("title") or response.reason or "")
