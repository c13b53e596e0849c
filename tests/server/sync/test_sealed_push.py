"""Protocol 2 on the server: the version header, sealed records, replays before opening.

An older client is refused whole (426 ``client_outdated``) and nothing is stored; a record that
does not open (an unknown key, tampered bytes, an envelope that names another record) is answered
with its code and nothing is stored; a replay of the same sealed bytes is answered without
opening anything; a record first stored under version 1 (in clear) is a duplicate when the
same plaintext comes sealed.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from server.core import keyring
from server.core.extensions import db
from server.core.models import Case, Enrollment
from server.sync import envelope as envelope_module
from server.sync import ingest
from shared import vocab
from shared.canonical import with_hash
from shared.schemas import MAX_SEALED_B64
from shared.sealing import seal
from tests.support.records import OfficeKey, add_residents, envelope, office_key, seal_any
from tests.support.server_app import NOTHING_WRITTEN, assert_problem
from tests.support.uploads import Register, seal_file, sha, upload

Push = Callable[..., Any]
Make = Callable[..., dict[str, Any]]
Counts = Callable[[], dict[str, int]]
PUSH = "/api/v1/sync/push"


def results(answer: Any) -> list[tuple[str, str | None]]:
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return [(r["status"], (r.get("errors") or {}).get("code")) for r in answer.json["results"]]


@pytest.mark.parametrize("version", [None, "1", "3", " "])
def test_a_request_without_this_version_is_426_and_stores_nothing(
    app: Flask, old_client: FlaskClient, auth_headers: dict[str, str], make_record: Make,
    sealing_key: OfficeKey, row_counts: Counts, version: str | None,
) -> None:
    headers = {k: v for k, v in auth_headers.items() if k != "Jemput-Protocol"}
    if version is not None:
        headers["Jemput-Protocol"] = version
    item = envelope(make_record(), sealing_key)
    answer = old_client.post(PUSH, json={"records": [item]}, headers=headers)
    problem = assert_problem(answer, 426, "client_outdated")
    assert "antrean di laptop tetap utuh" in problem["detail"]
    assert row_counts() == NOTHING_WRITTEN
    for path in ("/api/v1/sync/pull?since=0", "/api/v1/device/profile"):
        assert_problem(old_client.get(path, headers=headers), 426, "client_outdated")
    assert_problem(old_client.post("/api/v1/uploads", headers={
        **headers, "Tus-Resumable": "1.0.0", "Upload-Length": "100"}), 426, "client_outdated")


def test_a_record_sealed_to_an_unknown_key_stores_nothing(
    push: Push, make_record: Make, row_counts: Counts
) -> None:
    stranger = OfficeKey("20200101-deadbeef", bytes(os.urandom(32)))
    record = make_record()
    answer = push([envelope(record, stranger)], raw=True)
    assert results(answer) == [("rejected", "unknown_key")]
    assert row_counts() == NOTHING_WRITTEN  # no refusal row: not a verdict on the record
    assert answer.json["device"] == {"last_seq": 0, "received": 0, "gaps": []}


def test_a_tampered_or_mislabelled_sealed_record_stores_nothing(
    push: Push, make_record: Make, sealing_key: OfficeKey, row_counts: Counts
) -> None:
    first, second, third = make_record(), make_record(), make_record()
    sealed = bytearray(seal_any(sealing_key.public, first))
    sealed[60] ^= 1  # one bit flipped on the way
    items = [
        envelope(first, sealing_key, sealed=bytes(sealed)),
        # Opens, but holds another record than the envelope names.
        envelope(second, sealing_key, sealed=seal_any(sealing_key.public, third)),
        # Opens, but is not gzipped JSON.
        envelope(third, sealing_key, sealed=seal(sealing_key.public, b"not a record")),
    ]
    answer = push(items, raw=True)
    assert results(answer) == [("rejected", "sealed_invalid")] * 3
    assert row_counts() == NOTHING_WRITTEN
    # The laptop sends them again, whole: they are stored then.
    again = push([first, second, third])
    assert results(again) == [("accepted", None)] * 3


@pytest.mark.parametrize("change", [
    {"sealed": "not base64!"}, {"key_id": "../../etc"}, {"key_id": None}, {"sealed": None},
    {"seq": "1"},
])
def test_a_broken_envelope_is_invalid(
    push: Push, make_record: Make, sealing_key: OfficeKey, row_counts: Counts,
    change: dict[str, Any],
) -> None:
    item = {**envelope(make_record(), sealing_key), **change}
    assert results(push([item], raw=True)) == [("rejected", "invalid")]
    assert row_counts()["enrollment"] == 0


def test_a_replay_is_answered_before_anything_is_opened(
    push: Push, make_record: Make, row_counts: Counts, monkeypatch: pytest.MonkeyPatch
) -> None:
    records = [make_record() for _ in range(3)]
    first = push(records)
    before = row_counts()

    def never(*_args: Any) -> Any:
        raise AssertionError("a replay must not be opened")

    monkeypatch.setattr(ingest, "open_envelope", never)
    monkeypatch.setattr(envelope_module, "open_record", never)
    again = push(records)  # the ``seal`` fixture gives the very same sealed bytes again
    assert results(again) == [("duplicate", None)] * 3
    assert [r["missing_blobs"] for r in again.json["results"]] == [
        r["missing_blobs"] for r in first.json["results"]]
    assert row_counts() == before


def test_the_same_record_sealed_anew_is_still_a_duplicate(
    push: Push, make_record: Make, sealing_key: OfficeKey, row_counts: Counts
) -> None:
    # A sealed box is random: the same record sealed twice gives other bytes. The server opens
    # the second and finds the same plaintext hash.
    record = make_record()
    push([record])
    before = row_counts()
    resealed = envelope(record, sealing_key)
    assert results(push([resealed], raw=True)) == [("duplicate", None)]
    assert row_counts() == before


def test_a_record_first_stored_in_clear_is_a_duplicate_when_it_comes_sealed(
    app: Flask, push: Push, make_record: Make, device: tuple[str, str], row_counts: Counts
) -> None:
    record = make_record()
    with app.app_context():  # pushed by a version-1 laptop: stored without a sealed hash
        ingest.push_plain(device[0], [record])
        stored = db.session.get(Enrollment, record["id"])
        assert stored is not None and stored.sealed_sha256 is None
    before = row_counts()
    assert results(push([record])) == [("duplicate", None)]
    changed = with_hash({**record, "operator": "op.lain"})
    assert results(push([changed])) == [("rejected", "conflict")]
    assert row_counts()["enrollment"] == before["enrollment"]


def test_a_record_sealed_to_an_older_key_opens_after_rotation(
    app: Flask, push: Push, make_record: Make, row_counts: Counts
) -> None:
    old = office_key(app)
    record = make_record()
    with app.app_context():
        new = keyring.rotate(keyring.path_of(app))
    assert new.kid != old.kid and office_key(app).kid == new.kid
    assert results(push([envelope(record, old)], raw=True)) == [("accepted", None)]
    with app.app_context():
        stored = db.session.get(Enrollment, record["id"])
        assert stored is not None and stored.key_id == old.kid


def test_one_file_sealed_twice_under_two_niks_is_still_one_shared_biometric(
    app: Flask, client: FlaskClient, push: Push, make_record: Make,
    auth_headers: dict[str, str], register: Register, sealing_key: OfficeKey,
) -> None:
    finger = os.urandom(6000)
    mine, theirs = make_record(attachments=0), make_record(attachments=0, seq=1, serial=2)
    for record in (mine, theirs):
        record["attachments"] = [{"role": vocab.BIOMETRIC_ROLES[1], "sha256": sha(finger),
                                  "size": len(finger), "media_type": "image/jpeg"}]
    mine, theirs = with_hash(mine), with_hash(theirs)
    assert mine["payload"]["nik"] != theirs["payload"]["nik"]
    add_residents(app, mine, theirs)
    other = {"Authorization": f"Bearer {register('laptop-2')[1]}"}
    push([mine])
    push([theirs], headers=other)
    my_copy, their_copy = seal_file(sealing_key, finger), seal_file(sealing_key, finger)
    assert my_copy.sealed != their_copy.sealed  # what travels differs ...
    upload(client, auth_headers, my_copy)
    upload(client, other, their_copy)
    # ... the plaintext hash the records name does not: the office sees one file, two NIKs.
    with app.app_context():
        kinds = db.session.execute(select(Case.kind)).scalars().all()
    assert kinds == ["shared_biometric"]


def test_the_envelope_limits_hold(push: Push, make_record: Make, sealing_key: OfficeKey) -> None:
    # A sealed part over the limit is refused by the schema, before anything is opened.
    item = envelope(make_record(), sealing_key, sealed=b"x")
    item["sealed"] = "A" * (MAX_SEALED_B64 + 4)
    assert results(push([item], raw=True)) == [("rejected", "invalid")]
