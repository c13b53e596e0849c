"""``/api/v1/uploads``: tus 1.0.0 (core, creation, creation-with-upload, checksum, expiration,
termination)."""

from __future__ import annotations

from collections.abc import Iterator

from flask import Blueprint, Response, g, request, url_for
from werkzeug.exceptions import ClientDisconnected, RequestEntityTooLarge

from server.accounts.device_auth import device_required
from server.core.errors import TusVersionUnsupported, UnsupportedMediaType, UploadTooLarge
from server.http.protocol import device_protocol
from server.sync.uploads import lifecycle, tus
from server.sync.uploads import writes as upload_writes
from shared.protocol import (
    API_PREFIX,
    TUS_CHECKSUM_ALGORITHM,
    TUS_EXTENSIONS,
    TUS_OFFSET_STREAM,
    TUS_VERSION,
)

#: Every request names the protocol version (426 ``client_outdated`` otherwise).
bp = device_protocol(Blueprint("uploads", __name__, url_prefix=f"{API_PREFIX}/uploads"))
#: Bytes read at a time: a PATCH body (up to 20 MiB + 48) is never held whole in memory, and
#: pieces as large as the servers' own reads (gunicorn: up to 1 MiB) keep the loop short.
BODY_PIECE = 1024 * 1024
NO_AUTO_OPTIONS = {"provide_automatic_options": False}


class Bodiless(Response):
    """A successful tus answer without a body: no ``Content-Type`` (Flask's default would add
    ``text/html; charset=utf-8`` to every 201/204). On a slow link a file is one request and
    one answer, and every header of the answer is paid for per file. Errors stay
    problem+json."""

    default_mimetype = None


@bp.before_request
def require_tus_version() -> None:
    """412 for a request that does not speak tus 1.0.0 (OPTIONS is how a client asks)."""
    if request.method != "OPTIONS" and request.headers.get("Tus-Resumable") != TUS_VERSION:
        raise TusVersionUnsupported(
            f"Sertakan header Tus-Resumable: {TUS_VERSION}.",
            headers={"Tus-Version": TUS_VERSION},
        )


@bp.after_app_request
def tus_resumable(response: Response) -> Response:
    """Every answer under /uploads carries ``Tus-Resumable``, errors and 405s included."""
    prefix = bp.url_prefix or ""
    if request.path == prefix or request.path.startswith(prefix + "/"):
        response.headers["Tus-Resumable"] = TUS_VERSION
    return response


@bp.route("", methods=["OPTIONS"])
@bp.route("/<upload_id>", methods=["OPTIONS"])
def options(upload_id: str | None = None) -> Response:
    """What this tus server supports (no token needed: it tells nothing about anyone)."""
    return Bodiless(status=204, headers={
        "Tus-Version": TUS_VERSION,
        "Tus-Extension": TUS_EXTENSIONS,
        "Tus-Max-Size": str(lifecycle.MAX_UPLOAD_LENGTH),
        "Tus-Checksum-Algorithm": TUS_CHECKSUM_ALGORITHM,
    })


@bp.post("", **NO_AUTO_OPTIONS)
@device_required
def create() -> Response:
    """Create an upload of one sealed file (or find the one that already has it).

    creation-with-upload: a body is the first chunk (as a PATCH at offset 0 would be: checked
    against ``Upload-Checksum``, all or nothing). An upload found with bytes already ignores it
    (the answer's ``Upload-Offset`` says where to go on)."""
    info = lifecycle.create_upload(g.device.id, tus.declaration(request.headers))
    if request.content_length and info.offset == 0:
        info = upload_writes.append_chunk(g.device.id, info.id, _chunk(offset=0))
    headers = tus.progress_headers(info)
    # Relative (tus allows it; clients resolve it against the creation URL): shorter, and
    # right whatever scheme and host a proxy in front of the server was reached by.
    headers["Location"] = url_for(".upload", upload_id=info.id)
    return Bodiless(status=201, headers=headers)


@bp.route("/<upload_id>", methods=["HEAD"], endpoint="upload", **NO_AUTO_OPTIONS)
@device_required
def status(upload_id: str) -> Response:
    """How many bytes of this upload the server holds."""
    info = lifecycle.upload_status(g.device.id, upload_id)
    headers = tus.progress_headers(info)
    headers.update({"Upload-Length": str(info.length), "Upload-Metadata": tus.encode_metadata(info),
                    "Cache-Control": "no-store"})
    return Bodiless(status=200, headers=headers)


@bp.patch("/<upload_id>", **NO_AUTO_OPTIONS)
@device_required
def append(upload_id: str) -> Response:
    """Append the body at ``Upload-Offset``."""
    chunk = _chunk(offset=tus.non_negative(request.headers, "Upload-Offset"))
    info = upload_writes.append_chunk(g.device.id, upload_id, chunk)
    return Bodiless(status=204, headers=tus.progress_headers(info))


@bp.delete("/<upload_id>", **NO_AUTO_OPTIONS)
@device_required
def terminate(upload_id: str) -> Response:
    """Stop an upload and delete its partial bytes."""
    lifecycle.terminate_upload(g.device.id, upload_id)
    return Bodiless(status=204)


def _chunk(offset: int) -> upload_writes.Chunk:
    """The request's body as a chunk at ``offset`` (a PATCH's, or a creation's first)."""
    if request.mimetype != TUS_OFFSET_STREAM:
        raise UnsupportedMediaType(
            f"Isi kiriman unggahan memerlukan Content-Type: {TUS_OFFSET_STREAM}.")
    return upload_writes.Chunk(
        offset=offset,
        length=request.content_length,
        checksum=tus.checksum(request.headers.get("Upload-Checksum")),
        body=_body(),
    )


def _body() -> Iterator[bytes]:
    """The PATCH body in pieces; a client gone mid-body ends it with ``BodyCut``."""
    # A PATCH may carry up to Tus-Max-Size, above the app-wide limit for JSON bodies.
    request.max_content_length = lifecycle.MAX_UPLOAD_LENGTH
    declared, received = request.content_length, 0
    try:
        stream = request.stream
        while piece := stream.read(BODY_PIECE):
            received += len(piece)
            yield piece
    except (ClientDisconnected, OSError) as exc:  # werkzeug's short read, a reset socket
        raise upload_writes.BodyCut from exc
    except RequestEntityTooLarge as exc:  # a chunked body past Tus-Max-Size
        raise UploadTooLarge(f"Kiriman melebihi {lifecycle.MAX_UPLOAD_LENGTH} byte.") from exc
    if declared is not None and received < declared:  # servers that hand over a short stream
        raise upload_writes.BodyCut
