"""An office with data worth looking at: two teams, a person recorded twice, photos."""

from __future__ import annotations

import datetime as dt
import hashlib
import struct
import zlib
from pathlib import Path
from typing import Any

import flask_migrate
from flask import Flask
from sqlalchemy import select

from server.accounts import devices, users
from server.core.blobstore import blob_store
from server.core.blobstore.filesystem import FilesystemBlobStore
from server.core.extensions import db
from server.core.models import Blob, Case
from server.core.timeutil import utcnow
from server.registry import regions
from server.sync import ingest
from shared.canonical import with_hash
from tests.support.records import add_residents, build_record
from tests.support.server_app import make_app


def png(width: int, height: int, colour: tuple[int, int, int], stripe: int) -> bytes:
    """A small real PNG (a coloured card with a darker band), so pages show an image."""
    r, g, b = colour
    rows = []
    for y in range(height):
        dark = stripe <= y < stripe + height // 5
        pixel = bytes((r // 2, g // 2, b // 2) if dark else (r, g, b))
        rows.append(b"\x00" + pixel * width)

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"".join(rows))) + chunk(b"IEND", b""))


def store_blob(data: bytes) -> dict[str, object]:
    """Put ``data`` in the blob store as a finished blob; its attachment entry (role unset)."""
    sha = hashlib.sha256(data).hexdigest()
    store = blob_store()
    assert isinstance(store, FilesystemBlobStore)
    path = store.blob_path(sha)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    db.session.merge(Blob(sha256=sha, size=len(data), media_type="image/png",
                          created_at=utcnow()))
    db.session.commit()
    return {"sha256": sha, "size": len(data), "media_type": "image/png"}


def office(tmp_path: Path) -> tuple[Flask, int, list[str], str]:
    """A migrated SQLite office with a duplicate-NIK case; (app, case id, record ids, password)."""
    instance = tmp_path / "instance"
    instance.mkdir()
    app = make_app(instance, f"sqlite:///{instance / 'jemput.db'}", SESSION_COOKIE_SECURE=False)
    with app.app_context():
        flask_migrate.upgrade()
        regions.seed_sekadau()
        password = users.create_user("rina", "reviewer")
        ids = []
        for index, team in enumerate(("TIM-NANGA-MAHAP", "TIM-SEKADAU-HULU")):
            device, _ = devices.register_device(
                devices.create_registration_code(team, ttl=dt.timedelta(hours=1)),
                f"laptop-{index + 1}")
            files = [{"role": "photo", **store_blob(png(120, 150, (70 + 90 * index, 130, 180),
                                                       40 + 30 * index))},
                     {"role": "signature", **store_blob(png(240, 80, (235, 235, 240), 30))}]
            record = _with_files(files)
            if index == 0:
                add_residents(app, record)
            ingest.push_plain(device.id, [record])
            ids.append(record["id"])
        case_id = db.session.execute(select(Case.id).where(Case.kind == "duplicate_nik")
                                     ).scalar_one()
        db.session.commit()
    return app, case_id, ids, password


def _with_files(files: list[dict[str, object]]) -> dict[str, Any]:
    """The design's example resident (one NIK for both teams) with these files."""
    record = build_record(1, attachments=0, serial=7, hashed=False)
    record["attachments"] = files
    return with_hash(record)
