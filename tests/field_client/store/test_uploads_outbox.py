"""Upload rows in the outbox: schema 2 upgrade in place, what a push answer marks, retention."""

from __future__ import annotations

import random
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from field_client.capture.record import SavedRecord
from field_client.client import FieldClient
from field_client.config import Settings
from field_client.store import blobs, records, upload_rows
from field_client.store.outbox import SCHEMA_VERSION, open_outbox
from field_client.sync import upgrade
from shared.canonical import canonical_json
from shared.sealing import SEAL_OVERHEAD
from shared.vocab import EXCEPTABLE_ROLES
from tests.field_client.store.legacy import old_outbox
from tests.support.fakes import FakeServer, registered_client
from tests.support.field import NOW, local, opened, opened_file, person, set_state, sha_of, states
from tests.support.field_ui import profile_document
from tests.support.keys import DATA_KEY as DK

EXCUSED = {role: "other" for role in EXCEPTABLE_ROLES}


@pytest.fixture
def server() -> FakeServer:
    return FakeServer()


@pytest.fixture
def client(home: Path, server: FakeServer) -> Iterator[FieldClient]:
    with registered_client(
            Settings(allow_test_kdf=True, home=home, chunk_size=4096, retention_days=30),
            server) as made:
        yield made


def photo(folder: Path, seed: int, size: int = 10_000) -> Path:
    path = folder / f"photo-{seed}.jpg"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(random.Random(seed).randbytes(size))
    return path


def enroll(client: FieldClient, index: int, picture: Path) -> SavedRecord:
    return client.enroll(person(index), "op.a", files={"photo": picture}, exceptions=EXCUSED,
                         data_key=DK)


def to_version_1(client: FieldClient) -> dict[str, str]:
    """Replace the client's home with what version 1 made of the same queue: the records'
    bodies and their files in clear, no upload table; the bodies by id."""
    rows = client.outbox.rows("SELECT * FROM record ORDER BY seq")
    files = client.outbox.rows("SELECT * FROM file ORDER BY rowid")
    held = {row["id"]: opened(client, row["id"]) for row in rows}
    bodies = {record_id: canonical_json(record).decode() for record_id, record in held.items()}
    clear = {f["sha256"]: opened_file(client, f["sha256"]) for f in files}
    meta = client.outbox.meta()
    settings = client.settings
    client.close()
    for name in (settings.outbox_path, *settings.home.glob(f"{settings.outbox_path.name}-*")):
        name.unlink()
    shutil.rmtree(settings.files_dir)
    settings.files_dir.mkdir()
    conn = old_outbox(settings.outbox_path, 1)
    conn.execute("BEGIN")
    for key in ("next_seq", "server_url", "token"):
        conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                     (key, meta[key]))
    for row in rows:
        card = held[row["id"]]["payload"]
        conn.execute(
            "INSERT INTO record (id, seq, state, body, record_sha256, nik, nama, operator, "
            "captured_at, created_at, updated_at, completed_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, 'op.a', ?, ?, ?, ?)",
            (row["id"], row["seq"], row["state"], bodies[row["id"]], row["record_sha256"],
             card["nik"], card["nama"], row["captured_at"], row["created_at"],
             row["updated_at"], row["completed_at"]))
    for f in files:
        conn.execute(
            "INSERT INTO file (record_id, role, sha256, size, media_type, path) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (f["record_id"], f["role"], f["sha256"], f["size"], f["media_type"],
             blobs.legacy_path(f["sha256"])))
    conn.execute("COMMIT")
    conn.close()
    for sha256, data in clear.items():
        (settings.home / blobs.legacy_path(sha256)).write_bytes(data)
    return bodies


def test_a_version_1_outbox_is_upgraded_in_place_and_strands_nothing(
    client: FieldClient, server: FakeServer, tmp_path: Path
) -> None:
    shared = photo(tmp_path, 1)
    waiting = [enroll(client, i, shared) for i in (1, 2)]  # sent by the old client, no files
    done = enroll(client, 3, photo(tmp_path, 3))  # complete: a record without files, say
    enroll(client, 4, photo(tmp_path, 4))  # never sent
    for saved in waiting:
        set_state(client, saved.id, "sent")
    set_state(client, done.id, "complete")
    needed = sha_of(client, waiting[0])
    settings = client.settings
    path = settings.outbox_path
    bodies = to_version_1(client)  # back to exactly what version 1 made

    with open_outbox(path) as upgraded:
        assert upgraded.scalar("PRAGMA user_version") == SCHEMA_VERSION == 8
        rows = upgraded.rows("SELECT sha256, state, url, offset FROM upload")
        assert [tuple(r) for r in rows] == [(needed, "needed", None, 0)]
        kept = {r["id"]: r["legacy_body"] for r in upgraded.rows("SELECT * FROM record")}
        assert kept == bodies  # nothing touched: sealed by the upgrade before the first sync
        assert upgrade.pending(upgraded)
    assert states(path) == {"sent": 2, "complete": 1, "ready": 1}

    for saved in waiting:
        server.stored[saved.id] = {"seq": saved.seq, "attachments": [{"sha256": needed}]}
    server.device_profile = profile_document(DK)  # it brings the office key to seal to
    with FieldClient(settings=settings, transport_factory=server.transport) as again:
        report = again.sync()
        assert report.upgrade is not None
        assert (report.upgrade["records"], report.upgrade["files"]) == (4, 3)
        assert report.done and states(path) == {"complete": 4}
        assert report.files_uploaded == 2  # the shared photo once, and the new record's
        for record_id, body in bodies.items():
            assert canonical_json(opened(again, record_id)).decode() == body
        assert opened_file(again, needed) == shared.read_bytes()
        assert local(again, waiting[0]).name == f"{needed}.sealed"
    assert sorted(p.suffix for p in settings.files_dir.iterdir()) == [".sealed"] * 3
    stored = b"".join(p.read_bytes() for p in settings.home.glob(f"{path.name}*"))
    for index in (1, 2, 3, 4):
        assert person(index)["nik"].encode() not in stored


def test_a_push_answer_marks_needed_and_a_finished_upload_starts_over(
    client: FieldClient, tmp_path: Path
) -> None:
    first, second = enroll(client, 1, photo(tmp_path, 1)), enroll(client, 2, photo(tmp_path, 2))
    a, b = sha_of(client, first), sha_of(client, second)
    now = records.utc_now()
    with client.outbox.atomic():
        assert upload_rows.mark_needed(client.outbox, first.id, [a, a, "f" * 64], now) == 1
        upload_rows.mark_needed(client.outbox, second.id, [b], now)
        upload_rows.save_progress(client.outbox, a, "http://fake.invalid/u/1", 100, now)
        upload_rows.mark_done(client.outbox, a, "http://fake.invalid/u/1", now)
        upload_rows.save_progress(client.outbox, b, "http://fake.invalid/u/2", 100, now)
        upload_rows.mark_failed(client.outbox, b, "file_missing", "hilang", now)
        # The server says again that it lacks both (it lost one; the other never went).
        upload_rows.mark_needed(client.outbox, first.id, [a], now)
        upload_rows.mark_needed(client.outbox, second.id, [b], now)
    rows = {r["sha256"]: dict(r) for r in client.outbox.rows("SELECT * FROM upload")}
    assert (rows[a]["state"], rows[a]["url"], rows[a]["offset"]) == ("needed", None, 0)
    assert (rows[b]["state"], rows[b]["url"], rows[b]["offset"]) == (
        "needed", "http://fake.invalid/u/2", 100
    )  # fmt: skip


def test_only_files_of_records_waiting_for_them_are_counted(
    client: FieldClient, tmp_path: Path
) -> None:
    kept, dropped = enroll(client, 1, photo(tmp_path, 1)), enroll(client, 2, photo(tmp_path, 2))
    now = records.utc_now()
    with client.outbox.atomic():
        for saved in (kept, dropped):
            upload_rows.mark_needed(client.outbox, saved.id, [sha_of(client, saved)], now)
    set_state(client, kept.id, "sent")
    set_state(client, dropped.id, "rejected")  # the office threw it out: its file is not wanted
    # What goes up is the sealed copy: its bytes are counted.
    assert upload_rows.summary(client.outbox) == {
        "waiting": 1, "failed": 0, "bytes_left": 10_000 + SEAL_OVERHEAD}
    assert [row.sha256 for row in upload_rows.pending(client.outbox)] == [sha_of(client, kept)]


# -- retention ------------------------------------------------------------------------------------


def test_purge_keeps_a_file_a_record_still_waiting_for_its_upload_shares(
    client: FieldClient, server: FakeServer, tmp_path: Path
) -> None:
    shared = photo(tmp_path, 1)
    old = enroll(client, 1, shared)
    waiting = enroll(client, 2, shared)
    own = enroll(client, 3, photo(tmp_path, 3))
    set_state(client, old.id, "complete", days_ago=40)
    set_state(client, own.id, "complete", days_ago=40)
    set_state(client, waiting.id, "sent")
    with client.outbox.atomic():
        upload_rows.mark_needed(client.outbox, own.id, [sha_of(client, own)], records.utc_now())
        upload_rows.mark_needed(client.outbox, waiting.id, [sha_of(client, waiting)], "x")
    own_sha = sha_of(client, own)

    report = client.purge(now=NOW)

    assert (report.records, report.files) == (2, 1)  # the shared photo stays
    assert local(client, waiting).exists()
    assert not (client.settings.home / blobs.relative_path(own_sha)).exists()
    kept = [r["sha256"] for r in client.outbox.rows("SELECT sha256 FROM upload")]
    assert kept == [sha_of(client, waiting)]  # the purged file's row went with it
    server.stored[waiting.id] = {"attachments": [{"sha256": sha_of(client, waiting)}]}
    assert client.sync().done  # and the waiting record's file still goes up
    assert states(client.settings.outbox_path) == {"complete": 3}


def test_nothing_leaves_the_device_before_the_server_says_complete(
    client: FieldClient, tmp_path: Path
) -> None:
    saved = enroll(client, 1, photo(tmp_path, 1))
    set_state(client, saved.id, "sent")
    with client.outbox.atomic():
        client.outbox.execute(  # every file uploaded, long ago; no word from the server yet
            "UPDATE record SET sent_at = '2020-01-01T00:00:00Z' WHERE id = ?", (saved.id,)
        )
        upload_rows.mark_needed(client.outbox, saved.id, [sha_of(client, saved)], "x")
        upload_rows.mark_done(client.outbox, sha_of(client, saved), None, "x")
    assert client.purge(now=NOW) == type(client.purge(now=NOW))(0, 0)
    assert local(client, saved).exists()
    assert opened(client, saved.id)["id"] == saved.id  # the sealed copy is still here
