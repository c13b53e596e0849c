"""Reading request bodies and query strings: gzip, JSON, schema; every failure a clear 4xx."""

from __future__ import annotations

import json
import zlib
from typing import Any

from flask import current_app, request
from marshmallow import RAISE, Schema, ValidationError, pre_load

from server.core.errors import InvalidInput, PayloadTooLarge, UnsupportedMediaType

GZIP_WBITS = 16 + zlib.MAX_WBITS  # a gzip header and trailer around a deflate stream


def json_object() -> dict[str, Any]:
    """The request body as a JSON object (gzip-decoded when so declared)."""
    document = _parse_json(_body_bytes())
    if not isinstance(document, dict):
        raise InvalidInput("Isi permintaan harus berupa objek JSON ({...}).")
    return document


def load(schema: Schema, data: Any) -> dict[str, Any]:
    """``schema.load(data)``; field errors become a 400 problem listing them."""
    try:
        return schema.load(data)
    except ValidationError as exc:
        raise InvalidInput("Isi permintaan tidak sesuai skema.", errors=_messages(exc)) from exc


class QueryString(Schema):
    """A query string: unknown parameters refused, a blank one (an empty form field) absent."""

    class Meta:
        unknown = RAISE

    @pre_load
    def _drop_blanks(self, data: Any, **_: Any) -> Any:
        if isinstance(data, dict):
            return {key: value for key, value in data.items() if value not in ("", None)}
        return data


def load_query(schema: Schema, args: dict[str, str] | None = None) -> dict[str, Any]:
    """The query string (or ``args`` taken from it) loaded with ``schema``; unknown or
    malformed parameters are a 400."""
    try:
        return schema.load(request.args.to_dict() if args is None else args)
    except ValidationError as exc:
        raise InvalidInput("Parameter alamat tidak valid.", errors=_messages(exc)) from exc


def _body_bytes() -> bytes:
    limit = int(current_app.config["MAX_CONTENT_LENGTH"])
    if request.content_length is None:
        # A chunked body has no length to refuse up front, and werkzeug's stream stops at the
        # limit without a word: read one byte past it from the server's own input instead.
        data = request.environ["wsgi.input"].read(limit + 1)
        if len(data) > limit:
            raise PayloadTooLarge(f"Isi permintaan lebih dari {limit} bita.")
    else:
        data = request.get_data(cache=False)  # werkzeug refuses a longer body with 413
    encoding = request.headers.get("Content-Encoding", "").strip().lower()
    if encoding in ("", "identity"):
        return data
    if encoding in ("gzip", "x-gzip"):
        return gunzip(data, limit)
    raise UnsupportedMediaType(f"Content-Encoding '{encoding}' tidak didukung; pakai gzip.")


def gunzip(data: bytes, limit: int) -> bytes:
    """Decompress a gzip body, refusing (413) more than ``limit`` bytes of output: no zip bombs."""
    inflater = zlib.decompressobj(GZIP_WBITS)
    try:
        out = inflater.decompress(data, limit + 1)
    except zlib.error as exc:
        raise InvalidInput("Isi gzip rusak dan tidak dapat dibuka.") from exc
    if len(out) > limit:
        raise PayloadTooLarge(f"Isi permintaan setelah dibuka melebihi {limit} byte.")
    if not inflater.eof or inflater.unused_data:
        raise InvalidInput("Isi gzip terpotong atau diikuti data lain.")
    return out


def _parse_json(data: bytes) -> Any:
    if not data:
        raise InvalidInput("Isi permintaan kosong; kirim objek JSON.")
    try:
        return json.loads(data, parse_constant=_refuse_constant)
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, NaN/Infinity
        raise InvalidInput(f"Isi permintaan bukan JSON yang sah: {_short(exc)}") from exc
    except RecursionError as exc:  # thousands of nested brackets: no record looks like that
        raise InvalidInput("Isi permintaan bersarang terlalu dalam.") from exc


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} bukan angka JSON")


def _short(exc: ValueError) -> str:
    return str(exc).splitlines()[0][:200]


def _messages(exc: ValidationError) -> dict[str, Any]:
    messages = exc.messages
    return messages if isinstance(messages, dict) else {"_schema": messages}
