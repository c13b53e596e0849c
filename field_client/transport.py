"""HTTP to the Jemput server: one ``requests.Session``, timeouts, retries, errors by meaning.

Whatever goes wrong on the way (refused connection, timeout, cut body, 5xx, 408/429, an answer
that is not the contract's shape, or an error that is not a Jemput problem+json, such as a
hotspot login page) means "outcome unknown": :class:`NetworkUnavailable`. Nothing here ever
turns an unclear answer into success, and only the Jemput server itself can refuse.
"""

from __future__ import annotations

import gzip
import logging
from importlib import metadata
from typing import Any
from urllib.parse import urlsplit

import requests
from marshmallow import Schema, ValidationError
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from field_client.config import Settings
from field_client.errors import (
    DeviceRevoked,
    FieldClientError,
    NetworkUnavailable,
    PayloadTooLarge,
    RegistrationRefused,
    ServerRefused,
    UsageInvalid,
)
from shared.protocol import API_PREFIX, PROBLEM_MEDIA_TYPE
from shared.schemas import PullResponseSchema, PushResponseSchema, RegisterResponseSchema

log = logging.getLogger(__name__)

GZIP_THRESHOLD = 8 * 1024
#: Statuses that mean "not now" whoever sends them (request timeout, too many requests).
_TEMPORARY_STATUSES = frozenset({408, 429})
_UNKNOWN_FIELD = "Unknown field."
_REGISTRATION_MESSAGES = {
    "registration_code_used": "Kode pendaftaran ini sudah dipakai. Minta kode baru ke kantor "
    "(jemput-server device-code).",
    "registration_code_expired": "Kode pendaftaran sudah kedaluwarsa. Minta kode baru ke kantor.",
    "registration_code_invalid": "Kode pendaftaran tidak dikenal. Periksa penulisannya atau "
    "minta kode baru.",
}


def normalize_server_url(url: str) -> str:
    """``url`` without trailing slash; refuse anything that is not an http(s) address."""
    cleaned = (url or "").strip().rstrip("/")
    parts = urlsplit(cleaned)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UsageInvalid(
            f"Alamat server '{url}' tidak sah; tulis lengkap, misalnya https://jemput.example.id"
        )
    return cleaned


def user_agent() -> str:
    """``jemput-field/<version>``."""
    try:
        version = metadata.version("jemput")
    except metadata.PackageNotFoundError:
        version = "0"
    return f"jemput-field/{version}"


class Transport:
    """Calls of API v1 for one server (and, once registered, one device token)."""

    def __init__(
        self,
        server_url: str,
        settings: Settings,
        token: str | None = None,
        *,
        retries: int = 2,
        backoff_factor: float = 0.25,
    ) -> None:
        self.server_url = normalize_server_url(server_url)
        self._timeout = (settings.connect_timeout, settings.read_timeout)
        self._session = requests.Session()
        self._session.headers["User-Agent"] = user_agent()
        self._session.headers["Accept"] = "application/json, application/problem+json"
        if token:
            self._session.headers["Authorization"] = f"Bearer {token}"
        # Only failures to connect are retried here (nothing was sent, so even a POST is safe,
        # and a push is idempotent anyway). Few and quick: `sync` must fail fast; `watch` does
        # the long backoff.
        retry = Retry(
            total=retries,
            connect=retries,
            read=0,
            status=0,
            other=0,
            backoff_factor=backoff_factor,
            raise_on_status=False,
        )
        adapter = HTTPAdapter(max_retries=retry)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)

    def close(self) -> None:
        """Release the connection pool."""
        self._session.close()

    def __enter__(self) -> Transport:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def health(self) -> dict[str, Any]:
        """``GET /healthz``."""
        response = self._send("GET", "/healthz")
        return _json(response) if response.content else {}

    def register(self, code: str, name: str, first_seq: int = 1) -> dict[str, Any]:
        """``POST /api/v1/devices``: trade a one-time code for a device token."""
        body = {"code": code, "name": name, "first_seq": first_seq}
        try:
            response = self._send("POST", f"{API_PREFIX}/devices", json=body)
        except (ServerRefused, DeviceRevoked) as exc:
            reason = getattr(exc, "code", None)
            message = _REGISTRATION_MESSAGES.get(reason or "", exc.message)
            raise RegistrationRefused(f"Pendaftaran ditolak server: {message}", reason) from exc
        return _load(RegisterResponseSchema(), _json(response))

    def push(self, body: bytes) -> dict[str, Any]:
        """``POST /api/v1/sync/push`` with ``body`` exactly as given (gzip when it is large)."""
        headers = {"Content-Type": "application/json"}
        if len(body) > GZIP_THRESHOLD:
            body = gzip.compress(body, compresslevel=6)
            headers["Content-Encoding"] = "gzip"
        response = self._send("POST", f"{API_PREFIX}/sync/push", data=body, headers=headers)
        return _load(PushResponseSchema(), _json(response))

    def pull(self, since: int, limit: int) -> dict[str, Any]:
        """``GET /api/v1/sync/pull``: status changes after cursor ``since``."""
        params = {"since": since, "limit": limit}
        response = self._send("GET", f"{API_PREFIX}/sync/pull", params=params)
        return _load(PullResponseSchema(), _json(response))

    def _send(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        url = self.server_url + path
        try:
            response = self._session.request(method, url, timeout=self._timeout, **kwargs)
        except requests.RequestException as exc:
            log.info("%s %s failed: %r", method, url, exc)
            raise NetworkUnavailable(_network_message(self.server_url, exc)) from exc
        if response.status_code >= 400:
            raise _http_error(response)
        return response


def _network_message(server: str, exc: requests.RequestException) -> str:
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


def _http_error(response: requests.Response) -> FieldClientError:
    """The error an HTTP status >= 400 means; only a Jemput problem+json can be a refusal."""
    status = response.status_code
    problem = jemput_problem(response)
    if status >= 500:
        who = "Server" if problem is not None else "Server atau perantaranya (proxy/gateway)"
        return NetworkUnavailable(
            f"{who} sedang bermasalah (HTTP {status}). Rekaman tetap aman di antrean; coba "
            "lagi nanti."
        )
    code = problem.get("code") if problem is not None else None
    if status == 413:
        # Checked before the Jemput-or-not test on purpose: a reverse proxy's body limit answers
        # 413 in HTML, and the sync engine must still halve the batch (and at one record keep
        # it ready) instead of stopping the whole queue behind one large record.
        who = "server" if problem is not None else "server atau proxy di depannya"
        detail = _detail(problem, response)
        return PayloadTooLarge(
            f"Kiriman terlalu besar untuk batas ukuran {who} (HTTP 413): {detail}",
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
    if status in _TEMPORARY_STATUSES:
        return NetworkUnavailable(
            f"Server sedang sibuk (HTTP {status}). Rekaman tetap aman di antrean dan akan "
            "dikirim ulang nanti."
        )
    if status == 401:
        return DeviceRevoked(
            "Server menolak perangkat ini (token tidak berlaku atau dicabut). Minta kode baru "
            "ke kantor lalu daftar ulang: jemput-field register --force ... Rekaman tetap aman "
            "di antrean."
        )
    return ServerRefused(
        f"Server menolak permintaan (HTTP {status}): {_detail(problem, response)}",
        status=status,
        code=code,
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


def _detail(problem: dict[str, Any] | None, response: requests.Response) -> str:
    problem = problem or {}
    return str(problem.get("detail") or problem.get("title") or response.reason or "")


def _json(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError as exc:  # includes a body cut short or not JSON at all
        raise NetworkUnavailable(
            "Jawaban server tidak dapat dibaca (bukan JSON yang utuh). Hasil pengiriman belum "
            "pasti; rekaman tetap di antrean dan akan dikirim ulang."
        ) from exc


def _load(schema: Schema, data: Any) -> dict[str, Any]:
    """Check an answer against the contract; fields added by a newer server are ignored."""
    try:
        return dict(schema.load(data))
    except ValidationError as exc:
        stripped = _strip_unknown(data, exc.messages)
        if stripped:
            return _load(schema, data)
        log.warning("answer does not match %s: %s", type(schema).__name__, exc.messages)
        raise NetworkUnavailable(
            "Jawaban server tidak sesuai kontrak API. Hasil pengiriman belum pasti; rekaman "
            "tetap di antrean. Periksa versi server."
        ) from exc


def _strip_unknown(data: Any, messages: Any) -> bool:
    """Delete, in place, the keys marshmallow called unknown; True if any was deleted."""
    if not isinstance(messages, dict):
        return False
    removed = False
    for key, value in messages.items():
        if value == [_UNKNOWN_FIELD] and isinstance(data, dict) and key in data:
            del data[key]
            removed = True
        elif isinstance(value, dict):
            try:
                child = data[key]
            except (KeyError, IndexError, TypeError):
                continue
            removed = _strip_unknown(child, value) or removed
    return removed
