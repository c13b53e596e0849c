"""Records and files: ``missing_blobs``, records becoming ``complete``, the office's listing."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import event, select

from server.core.extensions import db
from server.core.models import Blob, Case, Change, Enrollment
from server.core.models.blob import BlobHolder
from server.core.timeutil import utcnow
from server.sync import ingest_check
from tests.support.records import OfficeKey, add_residents
from tests.support.uploads import (
    TUS,
    Auth,
    Register,
    blob_count,
    create,
    expire,
    seal_file,
    sha,
    started,
    state_of,
    upload,
    with_files,
)

Push = Callable[..., Any]
Make = Callable[..., dict[str, Any]]
PULL = "/api/v1/sync/pull"


def feed(client: FlaskClient, auth: Auth) -> list[tuple[str, str]]:
    changes = client.get(f"{PULL}?since=0", headers=auth).json["changes"]
    return [(change["record_id"], change["state"]) for change in changes]


def test_push_upload_complete_and_the_feed_says_so(
    app: Flask, client: FlaskClient, push: Push, make_record: Make, auth_headers: Auth,
    sealing_key: OfficeKey,
) -> None:
    files = [os.urandom(3000 + n) for n in range(3)]
    record = with_files(make_record, files)
    add_residents(app, record)  # in the registry: the checks after completion verify it
    result = push([record]).json["results"][0]
    assert (result["status"], result["state"]) == ("accepted", "received")
    assert result["missing_blobs"] == [sha(data) for data in files]
    upload(client, auth_headers, seal_file(sealing_key, files[0]))
    upload(client, auth_headers, seal_file(sealing_key, files[1]))
    assert state_of(app, record["id"]) == "received"  # one file still missing
    replay = push([record]).json["results"][0]
    assert (replay["status"], replay["missing_blobs"]) == ("duplicate", [sha(files[2])])
    before = utcnow()
    upload(client, auth_headers, seal_file(sealing_key, files[2]))
    assert state_of(app, record["id"]) == "verified"  # complete, then checked
    with app.app_context():
        stored = db.session.get(Enrollment, record["id"])
        assert stored is not None and stored.state_changed_at >= before
    assert feed(client, auth_headers) == [
        (record["id"], "received"), (record["id"], "complete")]  # checks' verdicts: no entry
    again = push([record]).json["results"][0]
    assert (again["state"], again["missing_blobs"]) == ("verified", [])


def test_push_after_the_files_arrived_is_complete_at_once(
    app: Flask, client: FlaskClient, push: Push, make_record: Make, auth_headers: Auth,
    sealing_key: OfficeKey,
) -> None:
    files = [os.urandom(2000), os.urandom(2001)]
    for data in files:
        upload(client, auth_headers, seal_file(sealing_key, data))
    record = with_files(make_record, files)
    result = push([record]).json["results"][0]
    assert (result["state"], result["missing_blobs"]) == ("complete", [])
    # Not in the (empty) registry: the checks that follow completion send it to review.
    assert feed(client, auth_headers) == [(record["id"], "complete")]


def test_one_file_shared_by_records_of_two_devices(
    app: Flask, client: FlaskClient, push: Push, make_record: Make, auth_headers: Auth,
    register: Register,
    sealing_key: OfficeKey,
) -> None:
    shared_file = os.urandom(5000)
    mine = with_files(make_record, [shared_file])
    push([mine])
    other = {"Authorization": f"Bearer {register('laptop-2')[1]}"}
    theirs = with_files(make_record, [shared_file], seq=1, serial=2)
    add_residents(app, mine, theirs)
    answer = push([theirs], headers=other)
    assert answer.json["results"][0]["state"] == "received"
    upload(client, other, seal_file(sealing_key, shared_file))
    # Held for the device that sent it: the other record waits for its own device's upload.
    assert state_of(app, mine["id"]) == "received" != state_of(app, theirs["id"])
    replay = push([mine]).json["results"][0]
    assert replay["missing_blobs"] == [sha(shared_file)]
    upload(client, auth_headers, seal_file(sealing_key, shared_file))
    assert blob_count(app) == 1  # stored once, held by both
    # Both complete; then the checks flag one file under two NIKs (the only finding).
    assert state_of(app, mine["id"]) == state_of(app, theirs["id"]) == "needs_review"
    assert feed(client, auth_headers)[-1:] == [(mine["id"], "complete")]
    assert feed(client, other)[-1:] == [(theirs["id"], "complete")]
    with app.app_context():
        assert db.session.execute(select(Case.kind)).scalars().all() == ["shared_biometric"]
    with app.app_context():
        completions = db.session.execute(
            select(Change.device_id).where(Change.state == "complete")).scalars().all()
    assert len(completions) == 2


def test_a_push_racing_the_last_file_is_completed_after_its_commit(
    app: Flask, client: FlaskClient, push: Push, make_record: Make, auth_headers: Auth,
    monkeypatch: Any,
    sealing_key: OfficeKey,
) -> None:
    files = [os.urandom(1000), os.urandom(1001)]
    for data in files:
        upload(client, auth_headers, seal_file(sealing_key, data))  # the blobs land ...
    # ... just after the push looked them up: it classifies its record as still missing files.
    monkeypatch.setattr(ingest_check, "missing_blobs", lambda device_id, hashes: set(hashes))
    record = with_files(make_record, files)
    add_residents(app, record)
    result = push([record]).json["results"][0]
    assert (result["status"], result["state"], result["missing_blobs"]) == (
        "accepted", "complete", [])
    assert state_of(app, record["id"]) == "verified"
    assert feed(client, auth_headers) == [
        (record["id"], "received"), (record["id"], "complete")]  # checks' verdicts: no entry


@contextmanager
def blob_queries(app: Flask) -> Iterator[list[str]]:
    """The SQL statements that read the blob table while the block runs."""
    seen: list[str] = []

    def before(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if " blob" in statement and statement.lstrip().upper().startswith("SELECT"):
            seen.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", before)


def test_missing_blobs_is_one_lookup_per_batch(
    app: Flask, push: Push, make_record: Make
) -> None:
    records = [make_record(attachments=14) for _ in range(50)]
    with blob_queries(app) as seen:
        answer = push(records)
    assert all(len(r["missing_blobs"]) == 14 for r in answer.json["results"])
    # One lookup of the batch's 700 hashes before the write and one after the commit (did a
    # file land meanwhile?); none did, so the completeness query over records is not run.
    # (The replay check reads the blob table only for records it found: none here.)
    assert len(seen) == 2
    assert not [s for s in seen if "enrollment" in s]


def held_without_sweep(app: Flask, data: bytes, device_id: str) -> None:
    """The blob arrived from ``device_id`` (its row and holder), but the sweep never ran."""
    with app.app_context():
        db.session.add(Blob(sha256=sha(data), size=len(data), media_type="image/jpeg",
                            created_at=utcnow()))
        db.session.flush()
        db.session.add(BlobHolder(sha256=sha(data), device_id=device_id, created_at=utcnow()))
        db.session.commit()


def test_creating_an_upload_of_a_held_blob_completes_stragglers(
    app: Flask, client: FlaskClient, push: Push, make_record: Make, auth_headers: Auth,
    device: tuple[str, str], sealing_key: OfficeKey,
) -> None:
    data = os.urandom(4000)
    record = with_files(make_record, [data])
    push([record])
    held_without_sweep(app, data, device[0])  # a crash between the blob and its sweep
    assert state_of(app, record["id"]) == "received"
    file = seal_file(sealing_key, data)
    answer = create(client, auth_headers, file)
    assert answer.headers["Upload-Offset"] == str(file.length)  # held: nothing to send
    assert state_of(app, record["id"]) == "needs_review"  # complete, then checked: not registered


def test_clean_uploads_command(
    app: Flask, client: FlaskClient, runner: FlaskCliRunner, push: Push, make_record: Make,
    auth_headers: Auth, device: tuple[str, str],
    sealing_key: OfficeKey,
) -> None:
    data = os.urandom(30_000)
    stale = started(app, client, auth_headers, seal_file(sealing_key, data), 10_000)
    live = started(app, client, auth_headers, seal_file(sealing_key, os.urandom(30_000)), 5_000)
    expire(app, stale)
    straggler_file = os.urandom(10)
    straggler = with_files(make_record, [straggler_file])
    push([straggler])
    held_without_sweep(app, straggler_file, device[0])
    partial_dir = app.config["JEMPUT_BLOB_DIR"] + "/partial"
    open(partial_dir + "/" + "L" * 32, "wb").close()  # a leftover no upload owns
    done = runner.invoke(args=["clean-uploads"])
    assert done.exit_code == 0, done.output
    assert "kedaluwarsa dibersihkan: 1." in done.output
    assert "dihapus: 1." in done.output
    assert "sudah lengkap: 1." in done.output
    assert sorted(os.listdir(partial_dir)) == [live.rsplit("/", 1)[1]]
    assert client.head(stale, headers={**TUS, **auth_headers}).status_code == 410
    assert state_of(app, straggler["id"]) == "needs_review"  # complete, then checked
    again = runner.invoke(args=["clean-uploads"])
    assert "kedaluwarsa dibersihkan: 0." in again.output


def test_expired_uploads_are_cleaned_in_passing_by_a_creation(
    app: Flask, client: FlaskClient, auth_headers: Auth,
    sealing_key: OfficeKey,
) -> None:
    stale = started(app, client, auth_headers, seal_file(sealing_key, os.urandom(30_000)), 10_000)
    expire(app, stale)
    create(client, auth_headers, seal_file(sealing_key, os.urandom(100)))
    partial_dir = app.config["JEMPUT_BLOB_DIR"] + "/partial"
    assert os.listdir(partial_dir) == []


def test_incomplete_command_lists_waiting_records_per_device(
    app: Flask, client: FlaskClient, runner: FlaskCliRunner, push: Push, make_record: Make,
    auth_headers: Auth, device: tuple[str, str], register: Register,
    sealing_key: OfficeKey,
) -> None:
    photo, signature = os.urandom(100), os.urandom(101)
    waiting = with_files(make_record, [photo, signature])
    done = with_files(make_record, [photo])
    push([waiting, done])
    upload(client, auth_headers, seal_file(sealing_key, photo))
    other_id, other_token = register("laptop-2")
    their_file = os.urandom(7)
    theirs = with_files(make_record, [their_file], seq=1)
    push([theirs], headers={"Authorization": f"Bearer {other_token}"})

    text = runner.invoke(args=["incomplete"])
    assert text.exit_code == 0, text.output
    assert "Berkas belum ada" in text.output and "Rekaman" in text.output
    assert waiting["id"] in text.output and theirs["id"] in text.output
    assert done["id"] not in text.output
    assert f"tanda tangan ({sha(signature)[:12]})" in text.output

    listed = json.loads(runner.invoke(args=["incomplete", "--json"]).output)
    assert {d["device_id"] for d in listed} == {device[0], other_id}
    mine = runner.invoke(args=["incomplete", "--device", device[0], "--json"])
    [entry] = json.loads(mine.output)
    assert [r["id"] for r in entry["records"]] == [waiting["id"]]
    assert entry["records"][0]["missing"] == [{"role": "signature", "sha256": sha(signature)}]

    unknown = runner.invoke(args=["incomplete", "--device", "nope"])
    assert unknown.exit_code == 1 and "tidak ditemukan" in unknown.output
    upload(client, auth_headers, seal_file(sealing_key, signature))
    theirs_auth = {"Authorization": f"Bearer {other_token}"}
    upload(client, theirs_auth, seal_file(sealing_key, their_file))
    assert "Semua rekaman sudah lengkap" in runner.invoke(args=["incomplete"]).output


def test_a_failing_completion_step_never_fails_the_finished_upload(
    app: Flask, client: FlaskClient, push: Push, make_record: Make, auth_headers: Auth,
    monkeypatch: Any,
    sealing_key: OfficeKey,
) -> None:
    from sqlalchemy.exc import OperationalError

    from server.sync import completeness

    files = [os.urandom(2500)]
    record = with_files(make_record, files)
    push([record])
    real, calls = completeness.complete_for_blob, []

    def flaky(sha256: str) -> list[str]:
        calls.append(sha256)
        if len(calls) < 3:  # a lock timeout twice, then the database answers
            raise OperationalError("UPDATE enrollment", {}, Exception("database is locked"))
        return real(sha256)

    monkeypatch.setattr(completeness, "complete_for_blob", flaky)
    # upload() asserts 204 and the full offset itself
    upload(client, auth_headers, seal_file(sealing_key, files[0]))
    assert len(calls) == 3
    assert state_of(app, record["id"]) == "needs_review"  # complete, then checked
    with app.app_context():
        assert db.session.get(Blob, sha(files[0])) is not None


def test_a_server_killed_before_completing_is_healed_by_the_next_head_or_patch(
    app: Flask, client: FlaskClient, push: Push, make_record: Make, auth_headers: Auth,
    monkeypatch: Any, sealing_key: OfficeKey,
) -> None:
    from server.sync.uploads import writes
    from tests.support.uploads import head, patch, path_of

    first, second = os.urandom(3000), os.urandom(3100)
    records = [with_files(make_record, [first]), with_files(make_record, [second])]
    push(records)
    # The server dies right after the PATCH's commit, before it completes the record: the
    # laptop never gets its answer, and its next HEAD (or PATCH) sees every byte there.
    with monkeypatch.context() as died:
        died.setattr(writes, "complete_after_upload", lambda sha256: [])
        paths = []
        for data in (first, second):
            file = seal_file(sealing_key, data)
            paths.append((path_of(create(client, auth_headers, file)), file))
            assert patch(client, auth_headers, paths[-1][0], 0, file.sealed).status_code == 204
    assert [state_of(app, r["id"]) for r in records] == ["received", "received"]
    status = head(client, auth_headers, paths[0][0])
    assert status.headers["Upload-Offset"] == str(paths[0][1].length)
    assert state_of(app, records[0]["id"]) == "needs_review"  # complete, then checked
    again = patch(client, auth_headers, paths[1][0], 0, paths[1][1].sealed)
    assert again.status_code == 204
    assert state_of(app, records[1]["id"]) == "needs_review"
