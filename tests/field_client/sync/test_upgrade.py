"""The upgrade of a laptop whose queue an older version kept in clear (``sync/upgrade.py``).

The home folder is built as schema 7 left it: records with their clear body, NIK and name,
biometric files in clear under ``files/<sha256>``, an upload of clear bytes in flight, a target
list in clear. Opening it with this version migrates the outbox to schema 8 and marks the upgrade
pending; the first sync fetches the office key (with the device token, no PIN), seals every
record and file, restarts the uploads, rebuilds the database file, and only then syncs.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from field_client.client import FieldClient
from field_client.config import Settings
from field_client.errors import NetworkUnavailable, UpgradeRequired
from field_client.store import blobs
from field_client.store.migrations import MIGRATIONS, SCHEMA_VERSION
from field_client.store.outbox import Outbox
from field_client.sync import upgrade
from shared.canonical import canonical_json
from shared.sealing import SEAL_OVERHEAD, fingerprint
from shared.vocab import EXCEPTABLE_ROLES
from tests.support.fakes import FakeServer, registered_client
from tests.support.field import DK, biometric_files, opened, opened_file, person, states
from tests.support.field_ui import profile_document
from tests.support.keys import OFFICE_KEY, OFFICE_KID, open_sealed_record

OLD_SCHEMA = 7
OLD_UPLOAD = "http://fake.invalid/api/v1/uploads/clear-upload-of-version-7"
REASON = "Foto buram, rekam ulang."
#: The resident on the old clear target list (not recorded yet).
TARGET = {"nik": "6109045708909999", "nama": "SERAFINA KUNDANG", "alamat": "JALAN DAMAR 9"}
NAMES = {1: "AGNES MONICA", 2: "YOHANES BOSCO", 3: "PETRUS KANISIUS", 4: "THERESIA AVILA"}
PHOTO_SIZE = 9000
CHUNK = 4096


class Killed(BaseException):
    """The laptop's battery died."""


@dataclass
class OldQueue:
    """What the schema-7 home holds, to compare with after the upgrade."""

    bodies: dict[str, str]  # record id -> the clear body (canonical JSON of the record)
    states: dict[str, str]
    files: dict[str, bytes]  # sha256 -> the clear file
    secrets: list[bytes]  # NIKs, names and addresses that must not stay on the disk
    in_flight: str  # sha256 of the file whose upload was in flight


def record_of(body: str) -> dict[str, Any]:
    """The record a clear body holds."""
    record: dict[str, Any] = json.loads(body)
    return record


def card(index: int) -> dict[str, Any]:
    return person(index, nama=NAMES[index], alamat=f"JALAN MERANTI NOMOR {index}")


def harvest(home: Path, scans: Path) -> tuple[list[dict[str, Any]], dict[str, bytes]]:
    """Records and files as version 7 made them: captured by this version in a scratch home and
    opened with the office key (the same records, the same canonical JSON, the same hashes)."""
    with registered_client(Settings(allow_test_kdf=True, home=home), FakeServer()) as scratch:
        photo = scans / "photo-2.jpg"
        photo.parent.mkdir(parents=True, exist_ok=True)
        photo.write_bytes(random.Random(2).randbytes(PHOTO_SIZE))
        excused = {role: "other" for role in EXCEPTABLE_ROLES}
        saved = [
            scratch.enroll(card(1), "op.a", files=biometric_files(scans, seed=1), data_key=DK),
            scratch.enroll(card(2), "op.a", files={"photo": photo}, exceptions=excused,
                           data_key=DK),
            scratch.enroll(card(3), "op.a", files=biometric_files(scans, seed=3), data_key=DK),
            scratch.enroll(card(4), "op.a", files=biometric_files(scans, seed=4), data_key=DK),
        ]
        made = [opened(scratch, s.id) for s in saved]
        shas = {a["sha256"] for record in made for a in record["attachments"]}
        return made, {sha: opened_file(scratch, sha) for sha in shas}


def old_outbox(path: Path, monkeypatch: pytest.MonkeyPatch) -> Outbox:
    """An outbox created by a version that knew schema 7 only."""
    with monkeypatch.context() as patched:
        patched.setattr("field_client.store.outbox.MIGRATIONS", MIGRATIONS[:OLD_SCHEMA])
        patched.setattr("field_client.store.outbox.SCHEMA_VERSION", OLD_SCHEMA)
        made = Outbox(path)
    assert made.scalar("PRAGMA user_version") == OLD_SCHEMA
    return made


def build_old_home(settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> OldQueue:
    """The home folder exactly as schema 7 kept it (everything in clear)."""
    made, files = harvest(tmp_path / "scratch", tmp_path / "scans")
    bodies = {record["id"]: canonical_json(record).decode() for record in made}
    kept_states = dict(zip(bodies, ("ready", "sent", "complete", "needs_fix"), strict=True))
    photo_sha = made[1]["attachments"][0]["sha256"]
    settings.files_dir.mkdir(parents=True, exist_ok=True)
    with old_outbox(settings.outbox_path, monkeypatch) as old, old.atomic():
        for key, value in (("server_url", "http://fake.invalid"), ("token", "t0ken"),
                           ("device_id", "dev-1"), ("next_seq", "5"), ("pull_cursor", "2")):
            old.set_meta(key, value)
        for record in made:
            state = kept_states[record["id"]]
            payload = record["payload"]
            old.execute(
                "INSERT INTO record (id, seq, state, body, record_sha256, nik, nama, operator, "
                "captured_at, created_at, updated_at, sent_at, completed_at, error_message, "
                "server_state) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (record["id"], record["seq"], state, bodies[record["id"]],
                 record["record_sha256"], payload["nik"], payload["nama"], record["operator"],
                 record["captured_at"], record["captured_at"], record["captured_at"],
                 None if state == "ready" else record["captured_at"],
                 record["captured_at"] if state == "complete" else None,
                 REASON if state == "needs_fix" else None,
                 None if state == "ready" else ("received" if state == "sent" else state)))
            for attachment in record["attachments"]:
                old.execute(
                    "INSERT INTO file (record_id, role, sha256, size, media_type, path) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (record["id"], attachment["role"], attachment["sha256"], attachment["size"],
                     attachment["media_type"], blobs.legacy_path(attachment["sha256"])))
        # The photo of the `sent` record was half way up (clear bytes), the complete record's
        # files went up whole.
        old.execute(
            "INSERT INTO upload (sha256, size, media_type, url, offset, state, updated_at) "
            "VALUES (?, ?, 'image/jpeg', ?, ?, 'needed', '2026-11-27T03:00:00Z')",
            (photo_sha, PHOTO_SIZE, OLD_UPLOAD, CHUNK))
        for attachment in made[2]["attachments"]:
            old.execute(
                "INSERT INTO upload (sha256, size, media_type, url, offset, state, updated_at) "
                "VALUES (?, ?, ?, NULL, ?, 'done', '2026-11-27T03:00:00Z')",
                (attachment["sha256"], attachment["size"], attachment["media_type"],
                 attachment["size"]))
        old.execute(
            "INSERT INTO outreach_visit (id, desa_kode, desa_nama, visit_date, ends_on, days, "
            "team, state, target_count, received_at) VALUES ('v-1', '61.09.04.2006', "
            "'TEMBAGA', '2026-11-27', '2026-11-28', 2, 'TIM-1', 'planned', 1, "
            "'2026-11-26T03:00:00Z')")
        old.execute(
            "INSERT INTO outreach_target (visit_id, nik, nama, nama_search, tanggal_lahir, "
            "jenis_kelamin, alamat, rt, rw) VALUES ('v-1', ?, ?, ?, '1990-08-17', "
            "'PEREMPUAN', ?, '001', '002')",
            (TARGET["nik"], TARGET["nama"], TARGET["nama"].lower(), TARGET["alamat"]))
    for sha256, data in files.items():
        (settings.home / blobs.legacy_path(sha256)).write_bytes(data)
    secrets = [TARGET["nik"].encode(), TARGET["nama"].encode(), TARGET["alamat"].encode()]
    for record in made:
        secrets += [record["payload"][key].encode() for key in ("nik", "nama", "alamat")]
    return OldQueue(bodies, kept_states, files, secrets, photo_sha)


@pytest.fixture
def settings(home: Path) -> Settings:
    return Settings(allow_test_kdf=True, home=home, chunk_size=CHUNK)


@pytest.fixture
def old(settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> OldQueue:
    return build_old_home(settings, tmp_path, monkeypatch)


@pytest.fixture
def server(old: OldQueue) -> FakeServer:
    """The office: it holds the records the old client sent (with the files of the complete
    one) and the feed entries it already pulled; its profile brings the office key."""
    made = FakeServer(device_profile=profile_document(DK))
    for record_id, body in old.bodies.items():
        if old.states[record_id] != "ready":
            made.stored[record_id] = record_of(body)
    complete, needs_fix = (next(i for i, s in old.states.items() if s == state)
                           for state in ("complete", "needs_fix"))
    for reviewed in (complete, needs_fix):  # the office reviewed them: it holds their files
        made.blobs |= {a["sha256"] for a in made.stored[reviewed]["attachments"]}
        made.completed.add(reviewed)
    made.status_change(complete, "complete")
    made.status_change(needs_fix, "needs_fix", REASON)
    return made


@pytest.fixture
def client(settings: Settings, server: FakeServer, old: OldQueue) -> Iterator[FieldClient]:
    """This version over the old home: opening it migrates the outbox to schema 8."""
    with FieldClient(settings=settings, transport_factory=server.transport) as made:
        yield made


def legacy_files(settings: Settings) -> list[Path]:
    return [p for p in settings.files_dir.iterdir() if len(p.name) == 64]


def everything_under(home: Path) -> dict[Path, bytes]:
    """Every byte under the home folder: the database, its WAL and journals, files, drafts."""
    return {path: path.read_bytes() for path in home.rglob("*") if path.is_file()}


def windows(data: bytes, width: int = 32) -> set[bytes]:
    return {data[i : i + width] for i in range(len(data) - width + 1)}


def assert_nothing_in_clear(home: Path, old: OldQueue) -> None:
    """No NIK, name or address, and no 32-byte slice of any biometric file, anywhere."""
    biometric = set().union(*(windows(data) for data in old.files.values()))
    for path, data in everything_under(home).items():
        for secret in old.secrets:
            assert secret not in data, f"{secret!r} in {path.name}"
        leaked = [i for i in range(len(data) - 31) if data[i : i + 32] in biometric]
        assert not leaked, f"{len(leaked)} biometric slices in {path.name}"


def assert_sealed_and_whole(client: FieldClient, old: OldQueue) -> None:
    """Every record sealed to the office key, opening to the very record it was; every file
    sealed, opening to its bytes; nothing left in clear in the outbox."""
    rows = client.outbox.rows("SELECT * FROM record ORDER BY seq")
    assert [r["id"] for r in rows] == list(old.bodies)
    for row in rows:
        assert row["legacy_body"] is None and row["key_id"] == OFFICE_KID
        assert hashlib.sha256(bytes(row["sealed"])).hexdigest() == row["sealed_sha256"]
        record = open_sealed_record(bytes(row["sealed"]))
        assert canonical_json(record).decode() == old.bodies[row["id"]]
        assert row["record_sha256"] == record["record_sha256"]  # unchanged: the same record
    assert legacy_files(client.settings) == []
    for sha256, data in old.files.items():
        [path] = {r["path"] for r in client.outbox.rows(
            "SELECT path, key_id FROM file WHERE sha256 = ? AND key_id = ?",
            (sha256, OFFICE_KID))}
        assert path == blobs.relative_path(sha256)
        assert opened_file(client, sha256) == data
    assert client.outbox.scalar("SELECT count(*) FROM file WHERE key_id IS NULL") == 0


# -- before the upgrade -----------------------------------------------------------------------


def test_opening_an_old_home_migrates_it_and_marks_the_upgrade_pending(
    client: FieldClient, old: OldQueue
) -> None:
    assert client.outbox.scalar("PRAGMA user_version") == SCHEMA_VERSION == 8
    assert upgrade.pending(client.outbox) and client.status()["upgrade_pending"]
    kept = {r["id"]: r["legacy_body"] for r in client.outbox.rows("SELECT * FROM record")}
    assert kept == old.bodies  # nothing sealed yet: that needs the office key
    assert states(client.settings.outbox_path) == {"ready": 1, "sent": 1, "complete": 1,
                                                   "needs_fix": 1}
    assert client.outbox.scalar("SELECT count(*) FROM outreach_visit") == 0  # clear list gone
    assert len(legacy_files(client.settings)) == len(old.files)


def test_sync_refuses_to_push_until_the_office_key_is_there(
    client: FieldClient, server: FakeServer, old: OldQueue
) -> None:
    server.profile_error = lambda: NetworkUnavailable("putus (fake)")
    with pytest.raises(UpgradeRequired) as caught:
        client.sync()
    assert "belum disegel" in caught.value.message
    assert "Tidak ada yang dikirim" in caught.value.message
    # Nothing went: no record, no file, no pull (the clear queue must not leave the laptop).
    assert (server.pushes, server.pulls, server.tus.creations, server.tus.patches) == (0, [], 0, [])
    assert upgrade.pending(client.outbox)
    kept = {r["id"]: r["legacy_body"] for r in client.outbox.rows("SELECT * FROM record")}
    assert kept == old.bodies and len(legacy_files(client.settings)) == len(old.files)
    assert client.status()["last_sync_error"]
    # The same when the server answers "unchanged" to a laptop that never had a key.
    server.profile_error, server.device_profile = None, None
    with pytest.raises(UpgradeRequired):
        client.sync()
    assert server.pushes == 0 and upgrade.pending(client.outbox)


# -- the upgrade ------------------------------------------------------------------------------


def test_the_first_sync_seals_everything_restarts_uploads_and_then_syncs(
    client: FieldClient, server: FakeServer, old: OldQueue
) -> None:
    server.tus.fail_next = [("POST", 503, "unavailable")]  # stop right after the push
    with pytest.raises(NetworkUnavailable) as caught:
        client.sync()
    report = caught.value.report
    assert report is not None and report.upgrade is not None
    assert report.upgrade == {
        "records": 4, "files": len(old.files), "drafts_left": 0,
        "office_key_fingerprint": fingerprint(bytes(OFFICE_KEY.public_key)),
    }
    assert not upgrade.pending(client.outbox)
    assert_sealed_and_whole(client, old)
    # The upload of clear bytes starts again from zero, with the sealed bytes.
    [row] = client.outbox.rows("SELECT * FROM upload WHERE sha256 = ?", (old.in_flight,))
    assert (row["url"], row["offset"], row["state"]) == (None, 0, "needed")
    assert (row["plain_size"], row["size"]) == (PHOTO_SIZE, PHOTO_SIZE + SEAL_OVERHEAD)
    assert row["key_id"] == OFFICE_KID
    done = client.outbox.rows("SELECT * FROM upload WHERE state = 'done'")
    assert done and all(r["offset"] == r["size"] == r["plain_size"] + SEAL_OVERHEAD
                        for r in done)
    # Only sealed records went, and the office opened them to what was saved.
    [ready] = [i for i, s in old.states.items() if s == "ready"]
    assert server.stored[ready] == record_of(old.bodies[ready])
    assert all(old.bodies[ready].encode() not in body for body in server.bodies)

    report = client.sync()
    assert report.done and report.upgrade is None  # done once
    assert states(client.settings.outbox_path) == {"complete": 3, "needs_fix": 1}
    assert set(server.blobs) >= set(old.files)
    uploads = [u for u in server.tus.uploads.values() if u.sha256 == old.in_flight]
    assert [u.size for u in uploads] == [PHOTO_SIZE + SEAL_OVERHEAD]
    assert server.tus.sent_for(old.in_flight) == PHOTO_SIZE + SEAL_OVERHEAD  # all of it, anew
    # The pull feed was replayed from the start: the office's reason is back, under the key.
    assert server.pulls[0] == 0
    [fix] = [r for r in client.records(data_key=DK) if r["state"] == "needs_fix"]
    assert fix["reason"] == REASON
    [listed] = [r for r in client.records() if r["state"] == "needs_fix"]
    assert listed["reason"] is None and listed["error_message"] is None  # not in clear
    client.close()
    assert_nothing_in_clear(client.settings.home, old)


def test_after_the_upgrade_nothing_is_left_in_clear_under_the_home_folder(
    client: FieldClient, server: FakeServer, old: OldQueue
) -> None:
    home = client.settings.home
    before = b"".join(everything_under(home).values())
    assert all(secret in before for secret in old.secrets[3:])  # the test would see them
    assert all(data[:32] in before for data in old.files.values())
    report = client.sync()
    assert report.done and report.upgrade is not None
    assert_nothing_in_clear(home, old)  # the database, -wal, -shm, journals, files
    client.close()
    assert_nothing_in_clear(home, old)


@pytest.mark.parametrize("where", ["_seal_records", "_cleanup"])
def test_a_crash_during_the_upgrade_is_finished_by_the_next_sync_and_loses_nothing(
    client: FieldClient, server: FakeServer, old: OldQueue, monkeypatch: pytest.MonkeyPatch,
    where: str,
) -> None:
    def die(*_: object) -> None:
        raise Killed

    with monkeypatch.context() as patched:
        patched.setattr(upgrade, where, die)
        with pytest.raises(Killed):
            client.sync()
    assert server.pushes == 0 and server.tus.creations == 0  # nothing synced meanwhile
    assert upgrade.pending(client.outbox)
    sealed = {p.name for p in client.settings.files_dir.iterdir() if p.suffix == ".sealed"}
    assert sealed == {f"{sha}.sealed" for sha in old.files}  # the files were sealed first
    assert len(legacy_files(client.settings)) == len(old.files)  # and the clear copies kept
    kept = {r["id"]: r["legacy_body"] for r in client.outbox.rows("SELECT * FROM record")}
    if where == "_seal_records":  # before the transaction: every record as it was
        assert kept == old.bodies
    else:  # after it: all of them sealed, the clear copies still to delete
        assert set(kept.values()) == {None}
        assert client.outbox.get_meta(upgrade.PENDING_META) == upgrade.CLEANUP
    client.close()

    with FieldClient(settings=client.settings, transport_factory=server.transport) as again:
        report = again.sync()
        assert report.done and report.upgrade is not None
        assert report.upgrade["office_key_fingerprint"] == fingerprint(
            bytes(OFFICE_KEY.public_key))
        assert not upgrade.pending(again.outbox)
        assert_sealed_and_whole(again, old)
        assert states(again.settings.outbox_path) == {"complete": 3, "needs_fix": 1}
        assert set(server.stored) == set(old.bodies)
        for record_id, body in old.bodies.items():
            assert server.stored[record_id] == record_of(body)
        assert set(server.blobs) >= set(old.files)
    assert_nothing_in_clear(client.settings.home, old)


def test_a_clear_file_damaged_before_the_upgrade_is_sealed_and_reported_not_sent(
    client: FieldClient, server: FakeServer, old: OldQueue
) -> None:
    damaged = old.in_flight
    path = client.settings.home / blobs.legacy_path(damaged)
    path.write_bytes(b"X" + path.read_bytes()[1:])  # bit rot on the old disk
    old.files[damaged] = path.read_bytes()  # the bytes that must not stay in clear either
    report = client.sync()
    assert report.upgrade is not None and report.upgrade["files"] == len(old.files) - 1
    [failed] = report.files_failed
    assert (failed["sha256"], failed["code"]) == (damaged, "file_changed")
    assert server.tus.sent_for(damaged) == 0
    assert (client.settings.home / blobs.relative_path(damaged)).is_file()  # kept, sealed
    client.close()
    assert_nothing_in_clear(client.settings.home, old)
