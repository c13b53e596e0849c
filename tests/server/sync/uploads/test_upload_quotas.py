"""One device cannot fill the server: caps on open partial uploads, idle expiry, a disk guard.

Each refusal is checked for its problem code and for what it stored: nothing new (no upload
row, no partial file), and an upload already under way stays resumable.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from collections import namedtuple
from typing import Any

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update

from field_client.errors import NetworkUnavailable
from field_client.sync.tus import upload_error
from server.core.extensions import db
from server.core.models import Upload
from server.core.timeutil import utcnow
from server.sync.uploads import lifecycle, writes
from shared import problems
from tests.support.records import OfficeKey
from tests.support.server_app import assert_problem
from tests.support.uploads import (
    Auth,
    Snapshot,
    create,
    head,
    partial_size,
    patch,
    path_of,
    seal_file,
    sha,
    snapshot,
    started,
    store,
    stored_blobs,
    upload,
    upload_row,
)

Usage = namedtuple("Usage", "total used free")


def upload_rows(app: Flask) -> int:
    with app.app_context():
        return int(db.session.execute(select(func.count()).select_from(Upload)).scalar_one())


def partials(app: Flask) -> list[str]:
    folder = app.config["JEMPUT_BLOB_DIR"] + "/partial"
    return sorted(os.listdir(folder)) if os.path.isdir(folder) else []


def test_open_partials_are_capped_per_device(
    app: Flask, client: FlaskClient, auth_headers: Auth, register: Any, sealing_key: OfficeKey,
) -> None:
    app.config["JEMPUT_UPLOAD_MAX_OPEN"] = 3
    files = [seal_file(sealing_key, os.urandom(1000 + n)) for n in range(4)]
    paths = [path_of(create(client, auth_headers, file)) for file in files[:3]]
    before = (upload_rows(app), partials(app))
    refused = create(client, auth_headers, files[3])
    problem = assert_problem(refused, 429, "upload_quota")
    assert "3 unggahan" in problem["detail"]
    assert (upload_rows(app), partials(app)) == before  # nothing stored
    # Its own uploads still resume, and other devices have their own caps.
    assert path_of(create(client, auth_headers, files[0])) == paths[0]
    other = {"Authorization": f"Bearer {register('laptop-2')[1]}"}
    assert create(client, other, files[3]).status_code == 201
    # A finished upload frees its place.
    assert patch(client, auth_headers, paths[0], 0, files[0].sealed).status_code == 204
    assert create(client, auth_headers, files[3]).status_code == 201


def test_the_declared_bytes_of_open_partials_are_capped(
    app: Flask, client: FlaskClient, auth_headers: Auth, sealing_key: OfficeKey,
) -> None:
    app.config["JEMPUT_UPLOAD_MAX_OPEN_BYTES"] = 100_000
    first = seal_file(sealing_key, os.urandom(60_000))
    second = seal_file(sealing_key, os.urandom(60_000))
    path = path_of(create(client, auth_headers, first))
    assert_problem(create(client, auth_headers, second), 429, "upload_quota")
    assert upload_rows(app) == 1
    assert client.delete(path, headers={"Tus-Resumable": "1.0.0", **auth_headers}
                         ).status_code == 204  # terminated: no longer open
    assert create(client, auth_headers, second).status_code == 201


def test_a_held_file_is_answered_even_at_the_cap(
    app: Flask, client: FlaskClient, auth_headers: Auth, sealing_key: OfficeKey,
) -> None:
    data = os.urandom(2000)
    upload(client, auth_headers, seal_file(sealing_key, data))
    app.config["JEMPUT_UPLOAD_MAX_OPEN"] = 0
    answer = create(client, auth_headers, seal_file(sealing_key, data))
    assert answer.status_code == 201 and answer.headers["Upload-Offset"] == str(2048)


def test_a_partial_that_received_no_byte_expires_after_the_idle_time(
    app: Flask, client: FlaskClient, auth_headers: Auth, monkeypatch: pytest.MonkeyPatch,
    sealing_key: OfficeKey,
) -> None:
    app.config.update(JEMPUT_UPLOAD_EXPIRY_HOURS=24, JEMPUT_UPLOAD_IDLE_HOURS=2)
    file, other = (seal_file(sealing_key, os.urandom(30_000)) for _ in range(2))
    untouched = path_of(create(client, auth_headers, file))
    touched = started(app, client, auth_headers, other, 10_000)
    start = utcnow()

    def at(hours: float) -> None:
        later = start + dt.timedelta(hours=hours)
        monkeypatch.setattr(lifecycle, "utcnow", lambda: later)
        monkeypatch.setattr(writes, "utcnow", lambda: later)

    at(1.5)  # the second one receives bytes: its idle time starts again
    assert patch(client, auth_headers, touched, 10_000, other.sealed[10_000:11_000]
                 ).status_code == 204
    at(2.1)  # well within the 24 h, but no byte for over 2 h
    assert head(client, auth_headers, untouched).status_code == 410
    assert snapshot(app, untouched) == Snapshot(0, "expired", None, 0)
    assert head(client, auth_headers, touched).status_code == 200
    at(3.6)
    assert head(client, auth_headers, touched).status_code == 410


def test_an_upload_fed_a_byte_now_and_then_still_expires_after_the_whole_time(
    app: Flask, client: FlaskClient, auth_headers: Auth, sealing_key: OfficeKey,
) -> None:
    app.config.update(JEMPUT_UPLOAD_EXPIRY_HOURS=24, JEMPUT_UPLOAD_IDLE_HOURS=2)
    file = seal_file(sealing_key, os.urandom(30_000))
    path = started(app, client, auth_headers, file, 1000)
    with app.app_context():  # created 23 h 30 min ago
        db.session.execute(update(Upload).where(Upload.id == path.rsplit("/", 1)[1])
                           .values(created_at=utcnow() - dt.timedelta(hours=23, minutes=30)))
        db.session.commit()
    assert patch(client, auth_headers, path, 1000, file.sealed[1000:2000]).status_code == 204
    left = upload_row(app, path).expires_at - utcnow()
    assert dt.timedelta(minutes=29) < left <= dt.timedelta(minutes=30)


def low_disk(monkeypatch: pytest.MonkeyPatch, app: Flask, spare: int) -> None:
    """The blob disk with ``spare`` bytes above JEMPUT_MIN_FREE_BYTES free (a folder store:
    files in a bucket fill no local disk, tests/server/core/test_blobstore_s3.py)."""
    store(app)
    free = int(app.config["JEMPUT_MIN_FREE_BYTES"]) + spare
    monkeypatch.setattr(shutil, "disk_usage", lambda path: Usage(10 * free, 9 * free, free))


def test_a_creation_is_refused_before_the_disk_fills(
    app: Flask, client: FlaskClient, auth_headers: Auth, monkeypatch: pytest.MonkeyPatch,
    sealing_key: OfficeKey,
) -> None:
    file = seal_file(sealing_key, os.urandom(40_000))
    low_disk(monkeypatch, app, spare=50_000)  # less than the sealed bytes and the plaintext
    assert_problem(create(client, auth_headers, file), 507, "storage_full")
    assert (upload_rows(app), partials(app)) == (0, [])
    low_disk(monkeypatch, app, spare=100_000)
    assert create(client, auth_headers, file).status_code == 201


def test_a_patch_is_refused_before_the_disk_fills_and_the_upload_stays_resumable(
    app: Flask, client: FlaskClient, auth_headers: Auth, monkeypatch: pytest.MonkeyPatch,
    sealing_key: OfficeKey,
) -> None:
    file = seal_file(sealing_key, os.urandom(40_000))
    path = started(app, client, auth_headers, file, 10_000)
    low_disk(monkeypatch, app, spare=20_000)
    answer = patch(client, auth_headers, path, 10_000, file.sealed[10_000:])
    assert_problem(answer, 507, "storage_full")
    assert answer.headers["Upload-Offset"] == "10000"
    assert snapshot(app, path) == Snapshot(10_000, "uploading", 10_000, 0)
    assert partial_size(app, path) == 10_000
    # A small chunk that does not end the file still fits.
    assert patch(client, auth_headers, path, 10_000, file.sealed[10_000:15_000]).status_code == 204
    monkeypatch.undo()
    assert patch(client, auth_headers, path, 15_000, file.sealed[15_000:]).status_code == 204
    assert stored_blobs(app) == {sha(file.plain): file.plain}


def test_the_field_client_keeps_everything_on_a_quota_answer() -> None:
    assert problems.UPLOAD_QUOTA.code in problems.TRY_AGAIN_LATER
    response = requests.Response()
    response.status_code = 429
    response.headers["Content-Type"] = "application/problem+json"
    response._content = json.dumps({
        "type": "urn:jemput:problem:upload_quota", "title": problems.UPLOAD_QUOTA.title,
        "status": 429, "detail": "...", "code": "upload_quota"}).encode()
    response.request = requests.Request("POST", "http://server/api/v1/uploads").prepare()
    assert isinstance(upload_error(response), NetworkUnavailable)  # "not now", nothing dropped
