"""A file is "held" only for the device that sent its bytes: no claim by hash, no oracle.

Device A uploads a file; device B names the same plaintext hash (and size) in its record
without ever sending a byte. B's record must not become complete from A's upload, B must be
told to send the file (in the push answer and at the tus creation alike), and what B hears
about A's file is exactly what it hears about a file nobody ever sent.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from server.core.extensions import db
from server.core.models import Device
from server.core.models.blob import BlobHolder
from tests.support.records import OfficeKey, add_residents
from tests.support.uploads import (
    Auth,
    Register,
    blob_count,
    create,
    head,
    path_of,
    seal_file,
    sha,
    state_of,
    stored_blobs,
    upload,
    upload_row,
    with_files,
)

Push = Callable[..., Any]
Make = Callable[..., dict[str, Any]]


def holders(app: Flask, data: bytes) -> list[str]:
    with app.app_context():
        return sorted(db.session.execute(
            select(BlobHolder.device_id).where(BlobHolder.sha256 == sha(data))).scalars())


@pytest.fixture
def device_b(register: Register) -> tuple[str, Auth]:
    """A second laptop: ``(device_id, its headers)``."""
    device_id, token = register("laptop-b")
    return device_id, {"Authorization": f"Bearer {token}"}


def test_a_file_another_device_sent_is_not_held_for_this_one(
    app: Flask, client: FlaskClient, push: Push, make_record: Make, auth_headers: Auth,
    device: tuple[str, str], device_b: tuple[str, Auth], sealing_key: OfficeKey,
) -> None:
    finger = os.urandom(7000)
    upload(client, auth_headers, seal_file(sealing_key, finger))  # device A sent it
    b_id, b_auth = device_b
    claim = with_files(make_record, [finger], seq=1, serial=2)
    add_residents(app, claim)
    answer = push([claim], headers=b_auth).json["results"][0]
    # B named A's file by hash and size only: its record waits, and B is told to send it.
    assert (answer["status"], answer["state"]) == ("accepted", "received")
    assert answer["missing_blobs"] == [sha(finger)]
    assert state_of(app, claim["id"]) == "received"
    created = create(client, b_auth, seal_file(sealing_key, finger))
    assert created.status_code == 201
    assert created.headers["Upload-Offset"] == "0"  # the bytes must come, from the start
    path = path_of(created)
    assert upload_row(app, path).state == "uploading"
    assert state_of(app, claim["id"]) == "received"
    replay = push([claim], headers=b_auth).json["results"][0]
    assert (replay["status"], replay["missing_blobs"]) == ("duplicate", [sha(finger)])
    # B sends the bytes: verified, the record completes, and the file is still stored once.
    upload(client, b_auth, seal_file(sealing_key, finger))
    assert state_of(app, claim["id"]) != "received"
    assert blob_count(app) == 1
    assert stored_blobs(app) == {sha(finger): finger}
    assert holders(app, finger) == sorted([device[0], b_id])
    again = create(client, b_auth, seal_file(sealing_key, finger))
    assert again.headers["Upload-Offset"] == str(len(finger) + 48)  # now held for B too


def test_a_held_hash_and_an_unknown_one_get_the_same_answers(
    app: Flask, client: FlaskClient, push: Push, make_record: Make, auth_headers: Auth,
    device_b: tuple[str, Auth], sealing_key: OfficeKey,
) -> None:
    held, unknown = os.urandom(5000), os.urandom(5000)
    upload(client, auth_headers, seal_file(sealing_key, held))  # device A sent one of them
    _, b_auth = device_b

    def pushed(data: bytes, seq: int) -> dict[str, Any]:
        record = with_files(make_record, [data], seq=seq, serial=seq)
        result = dict(push([record], headers=b_auth).json["results"][0])
        result.pop("id")
        return {**result, "missing_blobs": [h == sha(data) for h in result["missing_blobs"]]}

    assert pushed(held, 1) == pushed(unknown, 2)

    def created(data: bytes, **meta: Any) -> tuple[int, set[str], str]:
        answer = create(client, b_auth, seal_file(sealing_key, data), **meta)
        if answer.status_code != 201:
            return answer.status_code, set(), answer.get_data(as_text=True)
        # Which headers came (their values differ per upload and request: not compared).
        names = {name for name, _ in answer.headers} - {
            "Location", "Upload-Expires", "Date", "X-Request-Id"}
        status = head(client, b_auth, path_of(answer))
        return answer.status_code, names, status.headers["Upload-Offset"]

    assert created(held) == created(unknown) == (201, {
        "Upload-Offset", "Tus-Resumable", "Content-Length"}, "0")
    # A wrong size for the held file is not refused at creation (that would tell it is held).
    wrong = {"size": 4999, "length": 4999 + 48}
    assert created(held, **wrong)[0] == created(unknown, **wrong)[0] == 201


def test_earlier_registrations_of_the_same_laptop_count(
    app: Flask, client: FlaskClient, push: Push, make_record: Make, auth_headers: Auth,
    device: tuple[str, str], device_b: tuple[str, Auth], sealing_key: OfficeKey,
    new_code: Callable[..., str],
) -> None:
    finger = os.urandom(3000)
    upload(client, auth_headers, seal_file(sealing_key, finger))
    # The same laptop registered again, proving the token it held (here: still valid).
    again = client.post("/api/v1/devices", json={
        "code": new_code(), "name": "laptop-1", "first_seq": 2, "previous_token": device[1]})
    assert again.status_code == 201, again.json
    same = {"Authorization": f"Bearer {again.json['token']}"}
    with app.app_context():
        linked = db.session.get(Device, again.json["device_id"])
        assert linked is not None and linked.previous_device_id == device[0]
    record = with_files(make_record, [finger], seq=2, serial=3)
    answer = push([record], headers=same).json["results"][0]
    assert (answer["state"], answer["missing_blobs"]) == ("complete", [])
    created = create(client, same, seal_file(sealing_key, finger))
    assert created.headers["Upload-Offset"] == str(len(finger) + 48)
    # Another laptop, and a made-up "previous" token, link nothing.
    _, b_auth = device_b
    stranger = client.post("/api/v1/devices", json={
        "code": new_code(), "name": "laptop-c", "previous_token": "x" * 43})
    assert stranger.status_code == 201
    for auth in (b_auth, {"Authorization": f"Bearer {stranger.json['token']}"}):
        other = with_files(make_record, [finger], seq=1, serial=5)
        result = push([other], headers=auth).json["results"][0]
        assert result["missing_blobs"] == [sha(finger)]


def test_a_record_waiting_for_another_device_completes_from_its_own_upload_only(
    app: Flask, client: FlaskClient, push: Push, make_record: Make, auth_headers: Auth,
    device_b: tuple[str, Auth], sealing_key: OfficeKey,
) -> None:
    finger = os.urandom(4000)
    _, b_auth = device_b
    claim = with_files(make_record, [finger], seq=1, serial=4)
    push([claim], headers=b_auth)  # B names the file first, without sending it ...
    upload(client, auth_headers, seal_file(sealing_key, finger))  # ... then A sends it
    assert state_of(app, claim["id"]) == "received"  # A's upload completes none of B's records
    upload(client, b_auth, seal_file(sealing_key, finger))
    assert state_of(app, claim["id"]) != "received"
    assert blob_count(app) == 1

