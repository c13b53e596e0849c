"""HTTP to the Jemput server: one ``requests.Session``, timeouts, retries, errors by meaning.

Whatever goes wrong on the way (refused connection, timeout, cut body, 5xx, 408/423/429, an
answer that is not the contract's shape, or an error that is not a Jemput problem+json, such as
a hotspot login page) means "outcome unknown": :class:`NetworkUnavailable`
(``field_client.sync.http_errors``; uploads: ``field_client.sync.tus``). Nothing here ever turns an
unclear answer into success, and only the Jemput server itself can refuse.
"""

from __future__ import annotations

import contextlib
import gzip
import logging
from importlib import metadata
from typing import Any
from urllib.parse import quote, urlsplit

import requests
from marshmallow import Schema, ValidationError
from requests.adapters import BaseAdapter, HTTPAdapter
from urllib3.util.retry import Retry

from field_client.config import Settings
from field_client.errors import (
    DeviceRevoked,
    NetworkUnavailable,
    RegistrationRefused,
    ServerRefused,
    UploadGone,
    UploadLocationRefused,
    UsageInvalid,
)
from field_client.sync import tus
from field_client.sync.http_errors import http_error, network_message
from shared import problems
from shared.pin import KdfCost, check_cost
from shared.protocol import API_PREFIX, PROTOCOL_HEADER, PROTOCOL_VERSION, TUS_OFFSET_STREAM
from shared.schemas import (
    DeviceProfileSchema,
    PullResponseSchema,
    PushResponseSchema,
    RegisterResponseSchema,
    TargetListSchema,
)
from shared.sealing import SealError, unb64

log = logging.getLogger(__name__)

GZIP_THRESHOLD = 8 * 1024
UPLOADS_PATH = f"{API_PREFIX}/uploads"
#: What every upload request carries over the session's headers (None: left out).
_TUS_REQUEST_HEADERS: dict[str, str | None] = {**tus.TUS_HEADERS, **tus.LEAN_HEADERS}
_UNKNOWN_FIELD = "Unknown field."
_REGISTRATION_MESSAGES = {
    problems.REGISTRATION_CODE_USED.code:
        "Kode pendaftaran ini sudah dipakai. Minta kode baru ke kantor (jemput-server "
        "device-code).",
    problems.REGISTRATION_CODE_EXPIRED.code:
        "Kode pendaftaran sudah kedaluwarsa. Minta kode baru ke kantor.",
    problems.REGISTRATION_CODE_INVALID.code:
        "Kode pendaftaran tidak dikenal. Periksa penulisannya atau minta kode baru.",
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
        adapter: BaseAdapter | None = None,
    ) -> None:
        self.server_url = normalize_server_url(server_url)
        self._timeout = (settings.connect_timeout, settings.read_timeout)
        self._allow_test_kdf = settings.allow_test_kdf
        self._extensions: frozenset[str] | None = None
        self._session = requests.Session()
        self._session.headers["User-Agent"] = user_agent()
        self._session.headers["Accept"] = "application/json, application/problem+json"
        # HTTP/1.1 keeps the connection open without being asked: a header less per request.
        del self._session.headers["Connection"]
        # Every request names the protocol: sealed records and files, data under the device key.
        self._session.headers[PROTOCOL_HEADER] = str(PROTOCOL_VERSION)
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
        # ``adapter``: where requests go instead (tests pass an in-process server).
        chosen = adapter or HTTPAdapter(max_retries=retry)
        self._session.mount("http://", chosen)
        self._session.mount("https://", chosen)

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

    def register(self, code: str, name: str, first_seq: int = 1,
                 previous_token: str | None = None) -> dict[str, Any]:
        """``POST /api/v1/devices``: trade a one-time code for a device token (naming the token
        this laptop held before, if any: the server then knows it is the same laptop)."""
        body: dict[str, Any] = {"code": code, "name": name, "first_seq": first_seq}
        if previous_token:
            body["previous_token"] = previous_token
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

    def targets(self, visit_id: str) -> dict[str, Any]:
        """``GET /api/v1/outreach/visits/<id>/targets``: a visit and its target list.

        The answer is checked whole (and must be about ``visit_id``) before anything is stored;
        requests asks for gzip and unpacks it.
        """
        path = f"{API_PREFIX}/outreach/visits/{quote(visit_id, safe='')}/targets"
        answer = _load(TargetListSchema(), _json(self._send("GET", path)))
        try:
            unb64(answer["sealed"])
        except SealError:
            raise NetworkUnavailable(
                "Jawaban server tidak sesuai kontrak API (daftar sasaran bukan base64). Daftar "
                "sasaran diambil lagi pada sinkron berikutnya."
            ) from ValidationError("sealed")
        if answer["visit"]["id"] != visit_id:
            log.warning("target list asked for visit %s came for another visit", visit_id)
            raise NetworkUnavailable(
                "Jawaban server tidak sesuai kontrak API (daftar sasaran kunjungan lain). Daftar "
                "sasaran diambil lagi pada sinkron berikutnya. Periksa versi server."
            )
        return answer

    def profile(self, etag: str | None) -> dict[str, Any] | None:
        """``GET /api/v1/device/profile``: the device's operators and desa; None when unchanged.

        ``etag`` is the stored profile's version (sent as ``If-None-Match``: 304 -> None).
        """
        headers = {"If-None-Match": f'"{etag}"'} if etag else {}
        response = self._send("GET", f"{API_PREFIX}/device/profile", headers=headers)
        if response.status_code == 304:
            return None
        if response.status_code != 200:
            raise NetworkUnavailable(
                f"Jawaban server tidak sesuai kontrak API (HTTP {response.status_code} untuk "
                "profil perangkat). Profil diambil lagi pada sinkron berikutnya."
            )
        document: dict[str, Any] = _load(DeviceProfileSchema(), _json(response))
        for operator in document["operators"]:
            try:
                check_cost(KdfCost(operator["opslimit"], operator["memlimit"]),
                           allow_test=self._allow_test_kdf)
            except ValueError:
                raise NetworkUnavailable(
                    "Profil perangkat ditolak: biaya kunci PIN di bawah batas aman. Profil lama "
                    "tetap dipakai; hubungi kantor."
                ) from None
        return document

    # -- uploads (tus 1.0.0) ------------------------------------------------------------------

    def tus_extensions(self) -> frozenset[str]:
        """``OPTIONS /api/v1/uploads``: the tus extensions the server names (asked once).

        An answer that is not the tus server's (a proxy refusing OPTIONS, an old server) means
        none beyond the core; only a broken link is an error (:class:`NetworkUnavailable`).
        """
        if self._extensions is None:
            try:
                response = self._session.request(
                    "OPTIONS", self.server_url + UPLOADS_PATH,
                    headers=_TUS_REQUEST_HEADERS, timeout=self._timeout,
                    allow_redirects=False,
                )
            except requests.RequestException as exc:
                log.info("OPTIONS of the uploads failed: %r", exc)
                raise NetworkUnavailable(tus.network_message(self.server_url, exc)) from exc
            named = response.headers.get("Tus-Extension", "") if response.ok else ""
            self._extensions = frozenset(part.strip() for part in named.split(",") if part.strip())
        return self._extensions

    def create_upload(
        self, sha256: str, size: int, sealed_size: int, key_id: str, media_type: str,
        filename: str | None = None, data: bytes | None = None,
    ) -> tuple[str, int]:
        """``POST /api/v1/uploads`` (tus creation) of a sealed file: the upload's URL and the
        server's offset.

        The metadata names the plaintext (``sha256``, ``size``) and the office key it is sealed
        to; ``Upload-Length`` is the sealed size. A server that already holds the file answers
        with offset == sealed size: nothing to send. ``data`` (only to a server naming
        ``creation-with-upload``): the file's first bytes, with their checksum, in the same
        request; the answer's offset says how many the server kept (none if it resumed an
        upload it already had).
        """
        values = {"sha256": sha256, "size": str(size), "key_id": key_id,
                  "media_type": media_type}
        if filename:
            values["filename"] = filename
        headers = {"Upload-Length": str(sealed_size),
                   "Upload-Metadata": tus.encode_metadata(values)}
        if data:
            headers |= {"Upload-Checksum": tus.chunk_checksum(data),
                        "Content-Type": TUS_OFFSET_STREAM}
        url = self.server_url + UPLOADS_PATH
        response = self._tus("POST", url, headers, expect=201, data=data or None)
        location = response.headers.get("Location")
        if not location:
            raise tus.not_contract("tanpa alamat unggahan (Location)")
        offset = tus.required_offset(response.headers)
        return self.upload_url(tus.resolve_location(url, location)), offset

    def upload_offset(self, url: str) -> int:
        """``HEAD`` an upload: how many of its bytes the server holds."""
        response = self._tus("HEAD", self.upload_url(url), {}, expect=200)
        return tus.required_offset(response.headers)

    def upload_chunk(self, url: str, offset: int, data: bytes) -> int:
        """``PATCH`` ``data`` at ``offset`` with its SHA-256; return the server's new offset."""
        headers = {
            "Upload-Offset": str(offset),
            "Upload-Checksum": tus.chunk_checksum(data),
            "Content-Type": TUS_OFFSET_STREAM,
        }
        response = self._tus("PATCH", self.upload_url(url), headers, data=data, expect=204)
        new_offset = tus.required_offset(response.headers)
        if new_offset < offset:
            raise tus.not_contract(f"dengan posisi mundur ({new_offset} < {offset})")
        return new_offset

    def terminate(self, url: str) -> None:
        """``DELETE`` an upload and its partial bytes (an upload already gone is fine)."""
        with contextlib.suppress(UploadGone):
            self._tus("DELETE", self.upload_url(url), {}, expect=204)

    def owns(self, url: str) -> bool:
        """Whether ``url`` is on this transport's server (scheme, host and port)."""
        return tus.same_origin(url, self.server_url)

    def upload_url(self, url: str) -> str:
        """``url`` if it is on this server; refuse to send the token or files anywhere else."""
        if not self.owns(url):
            host = urlsplit(url).netloc or url
            raise UploadLocationRefused(
                f"Server memberi alamat unggahan di host lain ({host}), bukan {self.server_url}. "
                "Demi keamanan token dan data biometrik, tidak ada yang dikirim ke sana. Berkas "
                "dan rekaman tetap di perangkat; laporkan ke petugas teknis (konfigurasi server "
                "atau proxy)."
            )
        return url

    def _tus(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        *,
        expect: int,
        data: bytes | None = None,
    ) -> requests.Response:
        try:
            response = self._session.request(
                method,
                url,
                headers={**_TUS_REQUEST_HEADERS, **headers},
                data=data,
                timeout=self._timeout,
                allow_redirects=False,  # a redirect is a portal's doing, never the tus server's
            )
        except requests.RequestException as exc:
            log.info("%s upload failed: %r", method, exc)
            raise NetworkUnavailable(tus.network_message(self.server_url, exc)) from exc
        if response.status_code >= 400:
            raise tus.upload_error(response)
        if response.status_code != expect:
            raise tus.not_contract(f"dengan HTTP {response.status_code}, bukan {expect}")
        return response

    def _send(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        url = self.server_url + path
        try:
            response = self._session.request(method, url, timeout=self._timeout, **kwargs)
        except requests.RequestException as exc:
            log.info("%s %s failed: %r", method, url, exc)
            raise NetworkUnavailable(network_message(self.server_url, exc)) from exc
        if response.status_code >= 400:
            raise http_error(response)
        return response


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
