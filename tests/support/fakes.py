"""An in-memory stand-in for the server (protocol 2): push and pull answered in memory, and a
minimal tus 1.0.0 server (a WSGI app, reached in-process: no socket, no thread) for the file
uploads, each with faults to inject. It opens what the laptop seals with the tests' office key
(``tests.support.keys``) and sends records back under the tests' data key, as the office does."""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict
from werkzeug.test import EnvironBuilder, run_wsgi_app
from werkzeug.wrappers import Request, Response

from field_client.config import Settings
from field_client.errors import FieldClientError, NetworkUnavailable, PayloadTooLarge
from field_client.sync.transport import Transport
from shared import datakey
from shared.canonical import record_sha256
from shared.protocol import RETURNED_STATES
from shared.sealing import SEAL_OVERHEAD, SealError, b64, unb64
from shared.vocab import MAX_ATTACHMENT_BYTES
from tests.support.keys import (
    DATA_KEY,
    OFFICE_KID,
    give_office_key,
    open_sealed_file,
    open_sealed_record,
)

if TYPE_CHECKING:
    from field_client.client import FieldClient

TUS = "1.0.0"
UPLOADS = "/api/v1/uploads"


@dataclass
class FakeServer:
    """Stores records once by id, answers like API v1, and can be told to misbehave."""

    stored: dict[str, dict[str, Any]] = field(default_factory=dict)  # opened records by id
    sealed_hashes: dict[str, str] = field(default_factory=dict)  # id -> SHA-256 of its sealed
    bodies: list[bytes] = field(default_factory=list)
    opened: int = 0  # sealed records it had to open (a replay of the same bytes opens none)
    unknown_keys: set[str] = field(default_factory=set)  # key ids it answers unknown_key for
    #: The device's data key: what it sends back (reasons, records) is under it.
    data_key: bytes = DATA_KEY
    feed: list[dict[str, Any]] = field(default_factory=list)
    max_records: int | None = None  # larger pushes get a 413
    max_bytes: int | None = None
    reject_desa: str | None = None
    skip_ids: set[str] = field(default_factory=set)  # left out of the answer
    damage_ids: set[str] = field(default_factory=set)  # arrive damaged: "hash_mismatch"
    fail_push_after: int | None = None  # this many pushes succeed, then the network fails
    lose_answers: bool = False  # store, then fail as if the answer was cut
    fail_pull: bool = False
    error: Callable[[], FieldClientError] | None = None  # raised by every call
    blobs: set[str] = field(default_factory=set)  # files it already holds (by SHA-256)
    pushes: int = 0
    pulls: list[int] = field(default_factory=list)
    completed: set[str] = field(default_factory=set)  # records told complete (answer or feed)
    #: The device profile it hands out (None: it answers "unchanged", as a 304 would).
    device_profile: dict[str, Any] | None = None
    profile_error: Callable[[], FieldClientError] | None = None  # raised by profile() only
    profile_etags: list[str | None] = field(default_factory=list)  # If-None-Match values seen
    tus: FakeTus = field(init=False)

    def __post_init__(self) -> None:
        self.tus = FakeTus(self)

    def transport(self, url: str, settings: Settings, token: str | None) -> FakeTransport:
        """A transport factory for ``FieldClient(transport_factory=...)``."""
        return FakeTransport(self, url, settings, token)

    def blob_arrived(self, sha256: str) -> None:
        """A file is whole: records now holding all of theirs become complete (feed entry)."""
        self.blobs.add(sha256)
        for record_id, record in self.stored.items():
            hashes = {a["sha256"] for a in record["attachments"]}
            if record_id not in self.completed and hashes <= self.blobs:
                self.completed.add(record_id)
                self.status_change(record_id, "complete")

    def push(self, body: bytes) -> dict[str, Any]:
        if self.error:
            raise self.error()
        if self.fail_push_after is not None and self.pushes >= self.fail_push_after:
            raise NetworkUnavailable("network down (fake)")
        records = json.loads(body)["records"]
        if (self.max_records and len(records) > self.max_records) or (
            self.max_bytes and len(body) > self.max_bytes
        ):
            raise PayloadTooLarge("too large (fake)", status=413)
        self.pushes += 1
        self.bodies.append(body)
        results = [self._one(r) for r in records if r["id"] not in self.skip_ids]
        if self.lose_answers:
            raise NetworkUnavailable("answer lost (fake)")
        seqs = sorted(r["seq"] for r in self.stored.values())
        return {
            "results": results,
            "device": {"last_seq": seqs[-1] if seqs else 0, "received": len(seqs), "gaps": []},
        }

    def _one(self, envelope: dict[str, Any]) -> dict[str, Any]:
        base = {"id": envelope["id"], "warnings": [], "missing_blobs": []}
        sealed = unb64(envelope["sealed"])
        digest = hashlib.sha256(sealed).hexdigest()
        if self.sealed_hashes.get(envelope["id"]) == digest and envelope["id"] not in \
                self.damage_ids:
            record = self.stored[envelope["id"]]
            missing = [a["sha256"] for a in record["attachments"] if a["sha256"] not in self.blobs]
            return base | {"status": "duplicate", "state": "received" if missing else "complete",
                           "errors": None, "missing_blobs": missing}
        if envelope["key_id"] != OFFICE_KID or envelope["key_id"] in self.unknown_keys:
            error = {"code": "unknown_key", "message": "Kunci tidak dikenal (fake).",
                     "fields": None}
            return base | {"status": "rejected", "state": None, "errors": error}
        try:
            record = open_sealed_record(sealed)
            self.opened += 1
        except SealError:
            error = {"code": "sealed_invalid", "message": "Tidak dapat dibuka (fake).",
                     "fields": None}
            return base | {"status": "rejected", "state": None, "errors": error}
        if record["payload"]["desa_kode"] == self.reject_desa:
            error = {
                "code": "unknown_region",
                "message": "Kode desa tidak dikenal.",
                "fields": None,
            }
            return base | {"status": "rejected", "state": None, "errors": error}
        if record["id"] in self.damage_ids or record["record_sha256"] != record_sha256(record):
            error = {
                "code": "hash_mismatch",
                "message": "record_sha256 tidak cocok dengan isi rekaman (rusak di jalan?).",
                "fields": None,
            }
            return base | {"status": "rejected", "state": None, "errors": error}
        missing = [a["sha256"] for a in record["attachments"] if a["sha256"] not in self.blobs]
        state = "received" if missing else "complete"
        status = "duplicate" if record["id"] in self.stored else "accepted"
        self.stored.setdefault(record["id"], record)
        self.sealed_hashes.setdefault(record["id"], digest)
        if not missing:
            self.completed.add(record["id"])
        return base | {"status": status, "state": state, "errors": None, "missing_blobs": missing}

    def pull(self, since: int, limit: int) -> dict[str, Any]:
        if self.error:
            raise self.error()
        if self.fail_pull:
            raise NetworkUnavailable("pull failed (fake)")
        self.pulls.append(since)
        page = [c for c in self.feed if c["cursor"] > since][:limit]
        more = len([c for c in self.feed if c["cursor"] > since]) > limit
        return {"changes": page, "cursor": page[-1]["cursor"] if page else since, "more": more}

    def profile(self, etag: str | None) -> dict[str, Any] | None:
        """The device profile, or None when ``etag`` names its version (304)."""
        if self.error:
            raise self.error()
        self.profile_etags.append(etag)
        if self.profile_error:
            raise self.profile_error()
        if self.device_profile is None or etag == self.device_profile["version"]:
            return None
        return json.loads(json.dumps(self.device_profile))  # a copy, as if over the wire

    def status_change(self, record_id: str, state: str, reason: str | None = None) -> None:
        """Append a ``record_status`` entry to the feed; a record sent back carries its reason
        and data under the device's data key, as the office sends them."""
        cursor = len(self.feed) + 1
        sealed = None
        if state in RETURNED_STATES:
            record = self.stored.get(record_id)
            content = {"reason": reason, "record": None if record is None else {
                "payload": record["payload"], "attachments": record["attachments"],
                "exceptions": record.get("exceptions", [])}}
            sealed = b64(datakey.encrypt_json(self.data_key, content))
        self.feed.append(
            {
                "cursor": cursor,
                "kind": "record_status",
                "record_id": record_id,
                "state": state,
                "sealed": sealed,
                "at": "2026-11-27T03:12:45Z",
            }
        )


class FakeTransport(Transport):
    """The real transport, but push and pull answered in memory and uploads by the fake tus app."""

    def __init__(self, server: FakeServer, url: str, settings: Settings, token: str | None):
        super().__init__(url, settings, token, adapter=WsgiAdapter(server.tus))
        self.server = server

    def push(self, body: bytes) -> dict[str, Any]:
        return self.server.push(body)

    def pull(self, since: int, limit: int) -> dict[str, Any]:
        return self.server.pull(since, limit)

    def profile(self, etag: str | None) -> dict[str, Any] | None:
        return self.server.profile(etag)


class CutConnection(Exception):
    """Raised inside a fake app: the adapter turns it into a dropped connection."""


class WsgiAdapter(BaseAdapter):
    """A ``requests`` adapter that hands every request to a WSGI app in this process."""

    def __init__(self, app: Callable[..., Any]) -> None:
        super().__init__()
        self.app = app

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> Any:
        parts = urlsplit(request.url or "")
        body = request.body.encode() if isinstance(request.body, str) else request.body
        environ = EnvironBuilder(
            method=request.method,
            base_url=f"{parts.scheme}://{parts.netloc}",
            path=parts.path,
            query_string=parts.query,
            headers=dict(request.headers),
            data=body or b"",
        ).get_environ()
        try:
            app_iter, status, headers = run_wsgi_app(self.app, environ, buffered=True)
        except CutConnection as exc:
            raise requests.ConnectionError("connection cut (fake)", request=request) from exc
        response = requests.Response()
        response.status_code = int(status.split(" ", 1)[0])
        response.reason = status.split(" ", 1)[-1]
        response.headers = CaseInsensitiveDict(dict(headers))
        response.raw = io.BytesIO(b"".join(app_iter))
        response.url, response.request = request.url or "", request
        return response

    def close(self) -> None:
        pass


@dataclass
class FakeUpload:
    """One tus upload held by :class:`FakeTus`."""

    id: str
    owner: str  # the Authorization header that created it: a device sees only its own
    sha256: str  # of the plaintext
    size: int  # sealed bytes
    media_type: str
    data: bytearray = field(default_factory=bytearray)
    finished: bool = False
    state: str = "open"  # open | expired | failed | terminated

    @property
    def offset(self) -> int:
        """Bytes held (all of them when the file was already on the server)."""
        return self.size if self.finished else len(self.data)


@dataclass
class FakeTus:
    """A minimal tus 1.0.0 server (WSGI) in front of ``server.blobs``, with faults to inject."""

    server: FakeServer
    uploads: dict[str, FakeUpload] = field(default_factory=dict)
    max_size: int = MAX_ATTACHMENT_BYTES
    location_base: str | None = None  # answer creations with a Location on this origin
    relative_location: bool = False  # answer creations with a path only
    #: (method, status, code): the next request with that method gets this problem instead.
    fail_next: list[tuple[str, int, str]] = field(default_factory=list)
    #: ``cut_when(n)``: PATCH number n (from 0) is cut mid-body (it has a checksum: nothing kept).
    cut_when: Callable[[int], bool] | None = None
    #: ``lose_ack_when(n)``: PATCH number n is stored, then the connection drops (answer lost).
    lose_ack_when: Callable[[int], bool] | None = None
    before_patch: Callable[[FakeUpload], None] | None = None  # meddle before a PATCH is checked
    #: ``busy_when(upload)``: True answers the PATCH 423 (another request holds the upload).
    busy_when: Callable[[FakeUpload], bool] | None = None
    patches: list[tuple[str, int, int]] = field(default_factory=list)  # (id, offset, length)
    received: int = 0  # PATCH body bytes that reached the server, cut ones included
    creations: int = 0

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        response = self._answer(request)
        response.headers["Tus-Resumable"] = TUS
        return response(environ, start_response)

    def sent_for(self, sha256: str) -> int:
        """PATCH bytes received for uploads of one file (re-sent ones included)."""
        ids = {u.id for u in self.uploads.values() if u.sha256 == sha256}
        return sum(length for upload_id, _, length in self.patches if upload_id in ids)

    def _answer(self, request: Request) -> Response:
        if request.headers.get("Tus-Resumable") != TUS:
            return problem(412, "tus_version_unsupported")
        owner = request.headers.get("Authorization", "")
        if not owner:
            return problem(401, "unauthorized")
        for index, (method, status, code) in enumerate(self.fail_next):
            if method == request.method:
                del self.fail_next[index]
                return problem(status, code)
        if request.method == "POST" and request.path == UPLOADS:
            return self._create(request, owner)
        upload, refusal = self._find(request, owner)
        if upload is None:
            return refusal or problem(404, "upload_not_found")
        if request.method == "HEAD":
            return Response(status=200, headers=_progress(upload) | {"Cache-Control": "no-store"})
        if request.method == "PATCH":
            return self._patch(request, upload)
        if request.method == "DELETE":
            upload.state, upload.data = "terminated", bytearray()
            return Response(status=204)
        return problem(405, "method_not_allowed")

    def _create(self, request: Request, owner: str) -> Response:
        size = int(request.headers.get("Upload-Length", "0"))
        meta = _metadata(request.headers.get("Upload-Metadata", ""))
        if size > self.max_size + SEAL_OVERHEAD:
            return problem(413, "upload_too_large")
        if size < 1 or len(meta.get("sha256", "")) != 64 or not meta.get("media_type") \
                or meta.get("size") != str(size - SEAL_OVERHEAD):
            return problem(400, "bad_upload_request")
        if meta.get("key_id") != OFFICE_KID:
            return problem(422, "upload_unreadable")
        self.creations += 1
        upload = self._reusable(owner, meta["sha256"], size)
        if upload is None:
            held = meta["sha256"] in self.server.blobs
            upload = FakeUpload(
                secrets.token_urlsafe(8),
                owner,
                meta["sha256"],
                size,
                meta["media_type"],
                finished=held,
            )
            self.uploads[upload.id] = upload
        path = f"{UPLOADS}/{upload.id}"
        base = self.location_base or request.host_url.rstrip("/")
        location = path if self.relative_location else base + path
        return Response(status=201, headers=_progress(upload) | {"Location": location})

    def _reusable(self, owner: str, sha256: str, size: int) -> FakeUpload | None:
        """An unfinished upload of the same file by the same device: answered again."""
        for upload in self.uploads.values():
            same = (upload.owner, upload.sha256, upload.size) == (owner, sha256, size)
            if same and upload.state == "open" and not upload.finished:
                return upload
        return None

    def _find(self, request: Request, owner: str) -> tuple[FakeUpload | None, Response | None]:
        upload = self.uploads.get(request.path.rsplit("/", 1)[-1])
        if upload is None or upload.owner != owner or upload.state == "terminated":
            return None, problem(404, "upload_not_found")
        if upload.state in ("expired", "failed"):
            return None, problem(410, f"upload_{upload.state}")
        return upload, None

    def _patch(self, request: Request, upload: FakeUpload) -> Response:
        data = request.get_data()
        offset = int(request.headers.get("Upload-Offset", "-1"))
        number = len(self.patches)
        self.received += len(data)
        self.patches.append((upload.id, offset, len(data)))
        if self.cut_when and self.cut_when(number):
            raise CutConnection
        if self.busy_when and self.busy_when(upload):
            return problem(423, "upload_busy")
        if request.mimetype != "application/offset+octet-stream":
            return problem(415, "unsupported_media_type")
        if request.headers.get("Upload-Checksum") != _checksum(data):
            return problem(460, "checksum_mismatch")
        if self.before_patch:
            self.before_patch(upload)
            if upload.state != "open":
                return problem(410 if upload.state != "terminated" else 404, "upload_gone")
        refusal = _append(upload, offset, data)
        if refusal is not None:
            return refusal
        finished = self.finish(upload)
        if finished is not None:
            return finished
        if self.lose_ack_when and self.lose_ack_when(number):
            raise CutConnection
        return Response(status=204, headers=_progress(upload))

    def finish(self, upload: FakeUpload) -> Response | None:
        """Once every byte is in: open the sealed file and check its hash, as the server does
        (the blob arrives), or refuse it and fail the upload."""
        if upload.offset != upload.size:
            return None
        try:
            plain = open_sealed_file(bytes(upload.data))
        except SealError:
            upload.state, upload.data = "failed", bytearray()
            return problem(422, "upload_unreadable")
        if hashlib.sha256(plain).hexdigest() != upload.sha256:
            upload.state, upload.data = "failed", bytearray()
            return problem(460, "blob_hash_mismatch")
        upload.finished = True
        self.server.blob_arrived(upload.sha256)
        return None


def _append(upload: FakeUpload, offset: int, data: bytes) -> Response | None:
    """Append at ``offset`` (a re-send of bytes already held is fine); a problem, or None."""
    held = upload.offset
    if offset < 0 or offset > held or upload.finished:
        answer = problem(409, "upload_offset_mismatch")
        answer.headers["Upload-Offset"] = str(held)
        return answer
    if offset + len(data) > upload.size:
        return problem(413, "upload_too_large")
    overlap = bytes(upload.data[offset : offset + len(data)])
    if overlap != data[: len(overlap)]:
        answer = problem(409, "upload_offset_mismatch")
        answer.headers["Upload-Offset"] = str(held)
        return answer
    upload.data.extend(data[len(overlap) :])
    return None


def problem(status: int, code: str) -> Response:
    """A Jemput problem+json answer."""
    body = {
        "type": f"urn:jemput:problem:{code}",
        "title": code,
        "status": status,
        "detail": f"{code} (fake)",
        "code": code,
    }
    return Response(json.dumps(body), status=status, mimetype="application/problem+json")


def _progress(upload: FakeUpload) -> dict[str, str]:
    return {"Upload-Offset": str(upload.offset), "Upload-Length": str(upload.size)}


def _metadata(header: str) -> dict[str, str]:
    pairs = (item.strip().partition(" ") for item in header.split(",") if item.strip())
    return {key: base64.b64decode(value).decode() for key, _, value in pairs}


def _checksum(data: bytes) -> str:
    return "sha256 " + base64.b64encode(hashlib.sha256(data).digest()).decode()


def gunzip_if_needed(data: bytes) -> bytes:
    """The body as JSON bytes, whether or not it was compressed."""
    return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data


def registered_client(settings: Settings, server: FakeServer) -> FieldClient:
    """A field client over ``settings.home`` registered with ``server`` (no HTTP involved)."""
    from field_client.client import FieldClient  # here: the client imports nothing from tests

    made = FieldClient(settings=settings, transport_factory=server.transport)
    with made.outbox.atomic():
        made.outbox.set_meta("server_url", "http://fake.invalid")
        made.outbox.set_meta("token", "t0ken")
        give_office_key(made.outbox)
    return made
