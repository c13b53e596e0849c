"""The sync engine against an in-memory server: batching, answers, 413, gaps, pull, the lock."""

from __future__ import annotations

import json
import random
import sqlite3
import string
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from field_client.client import FieldClient
from field_client.config import Settings
from field_client.errors import (
    DeviceRevoked,
    FieldClientError,
    NetworkUnavailable,
    NotRegistered,
    OutboxBusy,
    StorageError,
    SyncBusy,
)
from field_client.store import records
from field_client.store.outbox import translate_sqlite_error
from field_client.sync.engine import SyncEngine, request_body, sync_lock
from shared.canonical import canonical_json
from shared.sealing import b64, seal_record, unb64
from tests.support.fakes import FakeServer, registered_client
from tests.support.field import (
    DK,
    biometric_files,
    biometric_hashes,
    opened,
    person,
    states,
    write_file,
)
from tests.support.keys import OFFICE_KEY, open_sealed_record

OFFICE_PUBLIC = bytes(OFFICE_KEY.public_key)


@pytest.fixture
def server() -> FakeServer:
    return FakeServer(blobs=biometric_hashes())  # it holds the test recording's files


@pytest.fixture
def client(home: Path, server: FakeServer) -> Iterator[FieldClient]:
    with registered_client(Settings(allow_test_kdf=True, home=home, batch_size=4), server) as made:
        yield made


def scans(client: FieldClient) -> dict[str, Path]:
    """A complete recording's files, next to the client's home folder."""
    return biometric_files(client.settings.home.parent / "scans")


def enroll(client: FieldClient, count: int, start: int = 1) -> list[str]:
    files = scans(client)
    return [
        client.enroll(person(i), "op.a", files=files, data_key=DK).id
        for i in range(start, start + count)
    ]


def pending(client: FieldClient, record_id: str) -> records.PendingRecord:
    """A ready record's envelope as the engine pushes it."""
    [found] = [p for p in records.ready_batch(client.outbox, 0, 1000) if p.id == record_id]
    return found


def sealed_of(client: FieldClient, record_id: str) -> bytes:
    return bytes(client.outbox.scalar("SELECT sealed FROM record WHERE id = ?", (record_id,)))


def test_sync_pushes_everything_in_seq_order_batches(
    client: FieldClient, server: FakeServer
) -> None:
    ids = enroll(client, 10)
    seen: list[tuple[int, int]] = []
    report = client.sync(progress=lambda done, total: seen.append((done, total)))
    assert (report.pushed, report.accepted, report.remaining, report.done) == (10, 10, 0, True)
    assert server.pushes == 3  # 4 + 4 + 2
    assert set(server.stored) == set(ids)
    assert states(client.settings.outbox_path) == {"complete": 10}
    assert seen[0] == (0, 10) and seen[-1] == (10, 10)
    assert client.status()["last_sync_at"] is not None


def test_records_are_sent_byte_for_byte_as_stored(client: FieldClient, server: FakeServer) -> None:
    ids = enroll(client, 2)
    stored = [sealed_of(client, record_id) for record_id in ids]
    kid = client.outbox.get_meta("office_key_id")
    client.sync()
    sent = json.loads(server.bodies[0])["records"]
    # Each record goes as its envelope, the sealed bytes exactly as saved (nothing re-sealed).
    assert server.bodies[0] == canonical_json({"records": [
        {"id": record_id, "seq": seq, "key_id": kid, "sealed": b64(sealed)}
        for seq, (record_id, sealed) in enumerate(zip(ids, stored, strict=True), start=1)
    ]})
    assert [r["id"] for r in sent] == ids
    assert [unb64(r["sealed"]) for r in sent] == stored
    assert set(sent[0]) == {"id", "seq", "key_id", "sealed"}  # nothing in clear beside them
    # What the office opens is the record as saved: its noted hash still matches.
    for record_id in ids:
        record = server.stored[record_id]
        assert record["record_sha256"] == records.stored_sha256(client.outbox, record_id)
        assert record == opened(client, record_id)


def test_replay_after_lost_answer_counts_duplicates_as_accepted(
    client: FieldClient, server: FakeServer
) -> None:
    enroll(client, 6)
    server.lose_answers = True
    with pytest.raises(NetworkUnavailable) as caught:
        client.sync()
    assert caught.value.report is not None and caught.value.report.remaining == 6
    assert states(client.settings.outbox_path) == {"ready": 6}  # nothing marked without answer
    assert len(server.stored) == 4  # the server did store the first batch
    server.lose_answers = False
    report = client.sync()
    assert (report.duplicate, report.accepted, report.remaining) == (4, 2, 0)
    assert states(client.settings.outbox_path) == {"complete": 6}
    assert client.status()["last_sync_error"] is None


def test_network_failure_mid_run_keeps_the_rest_ready(
    client: FieldClient, server: FakeServer
) -> None:
    enroll(client, 10)
    server.fail_push_after = 1
    with pytest.raises(NetworkUnavailable) as caught:
        client.sync()
    assert caught.value.exit_code == 75
    assert states(client.settings.outbox_path) == {"complete": 4, "ready": 6}
    assert client.status()["last_sync_error"]


def test_rejected_record_is_marked_and_the_rest_still_go(
    client: FieldClient, server: FakeServer
) -> None:
    server.reject_desa = "61.09.04.2999"
    enroll(client, 2)
    bad = client.enroll(person(3, desa_kode="61.09.04.2999"), "op.a", files=scans(client),
                        data_key=DK)
    enroll(client, 3, start=4)
    report = client.sync()
    assert (report.accepted, report.rejected, report.remaining) == (5, 1, 0)
    assert report.rejections[0]["id"] == bad.id
    [row] = client.records("rejected")
    assert row["id"] == bad.id and row["error_code"] == "unknown_region"
    assert "desa" in row["error_message"]
    client.sync()  # a rejected record is not sent again
    assert sum(1 for body in server.bodies if bad.id.encode() in body) == 1


def test_record_missing_from_the_answer_stays_ready(
    client: FieldClient, server: FakeServer
) -> None:
    ids = enroll(client, 5)
    server.skip_ids = {ids[1]}
    report = client.sync()
    assert (report.unanswered, report.remaining, report.done) == (1, 1, False)
    assert [r["id"] for r in client.records("ready")] == [ids[1]]
    server.skip_ids = set()
    assert client.sync().done


def test_too_large_batches_are_halved(client: FieldClient, server: FakeServer) -> None:
    enroll(client, 8)
    server.max_records = 1
    report = client.sync()
    assert report.done and report.accepted == 8
    assert server.pushes == 8


def big_record(client: FieldClient, tmp_path: Path, index: int = 9) -> str:
    """A record whose sealed copy is larger than the others (a long name and address that
    gzip cannot shrink much), with files the server does not hold yet."""
    words = ["".join(random.Random(n).choices(string.ascii_uppercase, k=9)) for n in range(12)]
    card = person(index, nama="MARIA " + " ".join(words[:4]),
                  alamat="DUSUN " + " ".join(words[4:]))
    saved = client.enroll(card, "op.a", files=biometric_files(tmp_path / "own", seed=1),
                          data_key=DK)
    return saved.id


def test_a_record_too_large_alone_stays_ready_and_the_rest_go(
    client: FieldClient, server: FakeServer, tmp_path: Path
) -> None:
    before = enroll(client, 2)
    big = big_record(client, tmp_path)
    after = enroll(client, 3, start=3)  # behind the big one in seq order: must still go
    # A limit (the server's or a proxy's) that every record fits except the big one.
    server.max_bytes = len(request_body([pending(client, big)])) - 1
    for other in (*before, *after):
        assert len(request_body([pending(client, other)])) <= server.max_bytes
    report = client.sync()
    assert (report.rejected, report.rejections) == (0, [])  # the server never judged it
    assert (report.accepted, report.unanswered, report.remaining, report.done) == (5, 1, 1, False)
    [held] = report.held_back
    assert (held["id"], held["code"]) == (big, "too_large")
    assert "413" in held["message"] and "tetap di antrean" in held["message"]
    # Nothing lost, nothing wrongly marked: the others are stored, the big one is still ready.
    assert set(server.stored) == {*before, *after}
    assert states(client.settings.outbox_path) == {"complete": 5, "ready": 1}
    [row] = client.records("ready")
    assert (row["id"], row["error_code"]) == (big, "too_large")
    assert "proxy" in row["error_message"]
    assert client.records("rejected") == []
    assert "tetap di antrean" in (client.status()["last_sync_error"] or "")
    assert client.status()["last_sync_at"] is not None  # the run itself went through
    # Once the limit is raised, the next run sends it and the note goes away.
    server.max_bytes = None
    report = client.sync()
    assert (report.accepted, report.held_back, report.done) == (1, [], True)
    assert big in server.stored
    [row] = [r for r in client.records() if r["id"] == big]  # its files went too: complete
    assert (row["state"], row["error_code"], row["error_message"]) == ("complete", None, None)
    assert client.status()["last_sync_error"] is None


def test_hash_mismatch_with_an_intact_body_stays_ready_and_goes_again(
    client: FieldClient, server: FakeServer
) -> None:
    ids = enroll(client, 5)
    server.damage_ids = {ids[2]}  # damaged on the way, not on the device
    report = client.sync()
    assert (report.accepted, report.rejected, report.unanswered) == (4, 0, 1)
    assert (report.remaining, report.done) == (1, False)
    [held] = report.held_back
    assert (held["id"], held["code"]) == (ids[2], "hash_mismatch")
    assert "dikirim ulang" in held["message"]
    assert states(client.settings.outbox_path) == {"complete": 4, "ready": 1}
    [row] = client.records("ready")
    assert (row["id"], row["error_code"]) == (ids[2], "hash_mismatch")
    assert "rusak di perjalanan" in row["error_message"]
    server.damage_ids = set()
    report = client.sync()
    assert (report.accepted, report.held_back, report.done) == (1, [], True)
    assert set(server.stored) == set(ids)
    assert states(client.settings.outbox_path) == {"complete": 5}
    assert client.records()[2]["error_code"] is None


def test_a_sealed_copy_damaged_on_the_device_is_rejected(
    client: FieldClient, server: FakeServer
) -> None:
    ids = enroll(client, 3)
    sealed = sealed_of(client, ids[1])
    damaged = sealed[:60] + bytes([sealed[60] ^ 0x01]) + sealed[61:]  # bit rot on the disk
    with client.outbox.atomic():
        client.outbox.execute("UPDATE record SET sealed = ? WHERE id = ?", (damaged, ids[1]))
    assert not records.sealed_intact(client.outbox, ids[1])
    report = client.sync()
    # The office cannot open it (sealed_invalid); the copy here no longer matches the hash
    # noted at save, so sending it again cannot help: rejected, for a person to record again.
    assert (report.accepted, report.rejected, report.held_back, report.remaining) == (2, 1, [], 0)
    [rejection] = report.rejections
    assert (rejection["id"], rejection["code"]) == (ids[1], "sealed_invalid")
    [row] = client.records("rejected")
    assert row["id"] == ids[1] and "perangkat ini sendiri rusak" in row["error_message"]
    assert set(server.stored) == {ids[0], ids[2]}
    assert states(client.settings.outbox_path) == {"complete": 2, "rejected": 1}


@pytest.mark.parametrize(
    ("change", "intact"),
    [
        (lambda sealed, noted: (sealed, noted), True),
        (lambda sealed, noted: (sealed[:-1] + bytes([sealed[-1] ^ 1]), noted), False),
        (lambda sealed, noted: (sealed[:-1], noted), False),  # cut short
        (lambda sealed, noted: (b"\x00" + sealed, noted), False),
        (lambda sealed, noted: (sealed, "0" * 64), False),  # not the hash noted at save
        # Sealed again (another valid box of the same record): not the bytes that were saved.
        (lambda sealed, noted: (seal_record(OFFICE_PUBLIC, open_sealed_record(sealed)), noted),
         False),
    ],
)
def test_the_sealed_copy_is_checked_against_the_hash_noted_at_save(
    client: FieldClient,
    server: FakeServer,
    change: Callable[[bytes, str], tuple[bytes, str]],
    intact: bool,
) -> None:
    [record_id] = enroll(client, 1)
    sealed, noted = change(sealed_of(client, record_id), pending(client, record_id).sealed_sha256)
    with client.outbox.atomic():
        client.outbox.execute("UPDATE record SET sealed = ?, sealed_sha256 = ? WHERE id = ?",
                              (sealed, noted, record_id))
    assert records.sealed_intact(client.outbox, record_id) is intact
    with server.transport("http://fake.invalid", client.settings, "t0ken") as link:
        engine = SyncEngine(client.outbox, link, client.settings)
        assert engine._body_intact(pending(client, record_id)) is intact


def test_records_with_files_stay_sent_until_complete(
    client: FieldClient, server: FakeServer, tmp_path: Path
) -> None:
    new_photo = {"photo": write_file(tmp_path / "p.jpg")}  # the server does not hold it yet
    saved = client.enroll(person(1), "op.a", files={**scans(client), **new_photo}, data_key=DK)
    server.tus.fail_next = [("POST", 507, "storage_full")]  # the office disk is full for now
    with pytest.raises(NetworkUnavailable) as caught:
        client.sync()
    report = caught.value.report
    assert report is not None and (report.waiting_for_files, report.files_waiting) == (1, 1)
    [row] = client.records()
    assert (row["state"], row["server_state"]) == ("sent", "received")
    report = client.sync()  # the photo goes up; the server says complete in the same run
    assert (report.files_uploaded, report.pulled, report.done) == (1, 1, True)
    server.status_change(saved.id, "received")  # late and stale: must not move it back
    client.sync()
    assert client.records()[0]["state"] == "complete"


def test_pull_applies_states_with_reasons_and_pages_through(
    client: FieldClient, server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("field_client.sync.engine.MAX_PULL_CHANGES", 2)
    ids = enroll(client, 3)
    client.sync()
    server.status_change(ids[0], "needs_fix", "Foto buram, rekam ulang.")
    server.status_change(ids[1], "approved")
    server.status_change(ids[2], "printed")
    server.status_change("0193a4f2-7c1e-7d2a-9b1e-2f4c8a1d5e60", "approved")  # not ours
    server.feed.append(dict(server.feed[0], cursor=5, kind="outreach_target"))  # unknown kind
    report = client.sync()
    assert report.pulled == 3
    assert server.pulls[-3:] == [0, 2, 4]
    assert client.status()["pull_cursor"] == 5
    by_id = {r["id"]: r for r in client.records()}
    assert by_id[ids[0]]["state"] == "needs_fix"
    assert by_id[ids[0]]["error_message"] is None  # the reason is not kept in clear
    reasons = {r["id"]: r["reason"] for r in client.records(data_key=DK)}
    assert reasons[ids[0]] == "Foto buram, rekam ulang."  # it is under the data key
    assert (by_id[ids[1]]["state"], by_id[ids[2]]["state"]) == ("approved", "printed")
    client.sync()
    assert server.pulls[-1] == 5  # the cursor was kept


def test_pull_failure_after_a_full_push_is_a_warning(
    client: FieldClient, server: FakeServer
) -> None:
    enroll(client, 2)
    server.fail_pull = True
    report = client.sync()
    assert report.done and report.pull_error
    assert client.status()["last_sync_error"]


def test_gaps_reported_by_the_server_are_kept(client: FieldClient, server: FakeServer) -> None:
    enroll(client, 1)
    original = server.push

    def with_gap(body: bytes) -> dict[str, object]:
        answer = original(body)
        answer["device"] |= {"last_seq": 43, "gaps": [[42, 42]]}
        return answer

    server.push = with_gap  # type: ignore[method-assign]
    report = client.sync()
    assert report.gaps == [[42, 42]]
    assert client.status()["gaps"] == [[42, 42]]
    assert client.status()["server_last_seq"] == 43


def test_revoked_device_stops_with_a_clear_error(client: FieldClient, server: FakeServer) -> None:
    enroll(client, 2)
    server.error = lambda: DeviceRevoked("dicabut")
    with pytest.raises(DeviceRevoked):
        client.sync()
    assert states(client.settings.outbox_path) == {"ready": 2}


def test_second_sync_on_the_same_home_is_busy(client: FieldClient) -> None:
    enroll(client, 1)
    with sync_lock(client.settings.lock_path), pytest.raises(SyncBusy) as caught:
        client.sync()
    assert caught.value.exit_code == 75
    assert "sedang berjalan" in caught.value.message
    assert client.sync().done  # the lock is released with its holder


def test_sync_needs_registration(field_client: FieldClient) -> None:
    with pytest.raises(NotRegistered):
        field_client.sync()


def test_watch_retries_until_the_network_is_back(client: FieldClient, server: FakeServer) -> None:
    enroll(client, 5)
    server.fail_push_after = 0
    sleeps: list[float] = []

    def on_cycle(cycle: int, *_: object) -> None:
        if cycle == 2:
            server.fail_push_after = None  # the network comes back during the second wait

    # The probe never sees the server: every wait after a failure is the whole backoff.
    summary = client.watch(max_cycles=4, sleep=sleeps.append, on_cycle=on_cycle,
                           probe=lambda: False)
    assert (summary.cycles, summary.failures) == (4, 2)
    assert sleeps[-1] == client.settings.idle_interval
    assert sum(sleeps[:-1]) <= 2 + 4 and all(0 <= step <= 1 for step in sleeps[:-1])
    assert states(client.settings.outbox_path) == {"complete": 5}


def test_watch_resumes_at_once_when_a_cut_link_is_straight_back(
    client: FieldClient, server: FakeServer
) -> None:
    enroll(client, 6)
    server.fail_push_after = 1  # the first batch of 4 goes, then the link drops
    sleeps: list[float] = []
    probes: list[int] = []

    def probe() -> bool:
        probes.append(server.pushes)
        server.fail_push_after = None  # straight back
        return True

    summary = client.watch(max_cycles=2, sleep=sleeps.append, probe=probe)
    # The failed run had records answered before the cut: no backoff, the next run at once.
    assert (summary.cycles, summary.failures, summary.early_resumes) == (2, 1, 1)
    assert sleeps == [] and probes == [1]
    assert states(client.settings.outbox_path) == {"complete": 6}


def test_watch_waits_out_a_locked_outbox_and_loses_nothing(
    client: FieldClient, server: FakeServer
) -> None:
    ids = enroll(client, 6)
    client.outbox.execute("PRAGMA busy_timeout = 50")  # do not wait 10 s for the other writer
    other = sqlite3.connect(client.settings.outbox_path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process (an import, say) holds the write lock
    errors: list[str] = []

    def sleep(_: float) -> None:
        if other.in_transaction:
            other.execute("COMMIT")  # the other writer finishes during the first wait

    def on_cycle(_: int, report: object, error: FieldClientError | None, __: float) -> None:
        errors.append(type(error).__name__ if error else "")

    try:
        summary = client.watch(max_cycles=2, sleep=sleep, on_cycle=on_cycle)
    finally:
        other.close()
    assert errors == ["OutboxBusy", ""]  # retried, not fatal
    assert (summary.cycles, summary.failures) == (2, 1)
    # The first answer could not be written down: nothing was marked without it, and the
    # replay in the second cycle settled everything exactly once.
    assert states(client.settings.outbox_path) == {"complete": 6}
    assert set(server.stored) == set(ids)
    assert summary.last_report is not None and summary.last_report.duplicate >= 1


def test_a_locked_outbox_is_outbox_busy() -> None:
    error = sqlite3.OperationalError("database is locked")
    error.sqlite_errorcode = sqlite3.SQLITE_BUSY  # type: ignore[attr-defined]
    mapped = translate_sqlite_error(error, Path("outbox.sqlite3"))
    assert isinstance(mapped, OutboxBusy) and isinstance(mapped, StorageError)
    assert mapped.exit_code == 75
    mapped = translate_sqlite_error(sqlite3.OperationalError("database is locked"), Path("o"))
    assert isinstance(mapped, OutboxBusy)


def test_a_refused_sync_is_noted_in_the_status(client: FieldClient, server: FakeServer) -> None:
    enroll(client, 1)
    server.error = lambda: DeviceRevoked("Token dicabut.")
    with pytest.raises(DeviceRevoked):
        client.sync()
    assert client.status()["last_sync_error"] == "Token dicabut."
