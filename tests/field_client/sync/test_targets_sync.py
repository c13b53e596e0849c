"""Target lists through the pull feed: stored whole or not at all, replaced, refused, removed."""

from __future__ import annotations

import datetime as dt
import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from field_client.client import FieldClient
from field_client.config import Settings
from field_client.errors import DeviceRevoked
from field_client.store.targets import purge_expired
from shared import datakey
from shared.sealing import b64
from tests.support.field import DK, biometric_files, biometric_hashes, person
from tests.support.targets import TODAY, OutreachServer, outreach_client, target

NAMES = ["MARIA GORETTI", "YOHANES BOSCO", "AGNES MONICA", "ŠTEFAN DVOŘÁK"]


@pytest.fixture
def server() -> OutreachServer:
    return OutreachServer(blobs=biometric_hashes())


@pytest.fixture
def client(home: Path, server: OutreachServer) -> Iterator[FieldClient]:
    with outreach_client(Settings(allow_test_kdf=True, home=home), server) as made:
        yield made


def four() -> list[dict[str, object]]:
    return [target(i + 1, name) for i, name in enumerate(NAMES)]


def rows(path: Path, sql: str) -> list[tuple[object, ...]]:
    """Rows read with a separate connection, as another process would see the file."""
    with sqlite3.connect(path) as conn:
        return conn.execute(sql).fetchall()


def cursor(client: FieldClient) -> int:
    return int(client.outbox.get_meta("pull_cursor") or 0)


def sealed_answer(server: OutreachServer, visit_id: str, targets: object) -> dict[str, object]:
    """A target-list answer for ``visit_id`` whose box (under the data key) holds ``targets``."""
    box = datakey.encrypt_json(server.data_key, {"targets": targets})
    return {"visit": server.lists[visit_id]["visit"], "sealed": b64(box)}


def boxes(path: Path) -> list[bytes]:
    """The target lists kept on the device, as they rest: boxes under the data key."""
    return [bytes(box) for (box,) in rows(path, "SELECT sealed FROM outreach_visit")]  # type: ignore[call-overload]


def test_an_assigned_visit_brings_its_target_list(
    client: FieldClient, server: OutreachServer
) -> None:
    visit_id = server.assign(four())
    report = client.sync()
    assert report.visits_received == 1 and report.targets_received == 4
    assert report.pulled == 0  # no record changed status
    assert server.fetched == [visit_id]
    [visit] = client.visits(data_key=DK)
    assert visit["id"] == visit_id and visit["desa_nama"] == "TEMBAGA"
    assert (visit["targets"], visit["done"], visit["target_count"]) == (4, 0, 4)
    # In name order with accents folded: Š sorts with S.
    names = ["AGNES MONICA", "MARIA GORETTI", "ŠTEFAN DVOŘÁK", "YOHANES BOSCO"]
    assert [t["nama"] for t in client.targets(data_key=DK)] == names
    assert cursor(client) == 1
    client.sync()  # nothing new: not fetched again
    assert server.fetched == [visit_id]


def test_a_list_sent_again_replaces_the_stored_one(
    client: FieldClient, server: OutreachServer
) -> None:
    visit_id = server.assign(four())
    client.sync()
    server.lists[visit_id]["targets"] = [target(9, "BARU SAJA")]
    server.outreach_entry("outreach_assigned", visit_id)
    report = client.sync()
    assert report.visits_received == 1
    assert [t["nama"] for t in client.targets(data_key=DK)] == ["BARU SAJA"]
    assert rows(client.settings.outbox_path, "SELECT count(*) FROM outreach_visit") == [(1,)]


def test_a_network_failure_on_the_list_keeps_the_cursor_before_it(
    client: FieldClient, server: OutreachServer
) -> None:
    saved = client.enroll(person(1), "op.a", files=biometric_files(client.home.parent / "s"),
                          data_key=DK)
    client.sync()
    before = cursor(client)
    server.status_change(saved.id, "needs_fix", "Nama salah.")  # applied: it comes first
    visit_id = server.assign(four())
    server.status_change(saved.id, "approved")  # after the assignment: not yet
    server.cut_targets = True
    report = client.sync()
    assert report.pull_error is not None and "tidak dapat dihubungi" in report.pull_error
    assert client.records()[0]["state"] == "needs_fix"
    assert cursor(client) == before + 1  # just before the assignment
    assert client.visits(data_key=DK) == [] and client.targets(data_key=DK) == []
    assert boxes(client.settings.outbox_path) == []  # nothing half-stored

    server.cut_targets = False
    report = client.sync()
    assert report.pull_error is None and report.visits_received == 1
    assert client.records()[0]["state"] == "approved"
    assert len(client.targets(visit_id=visit_id, data_key=DK)) == 4
    assert cursor(client) == before + 3


@pytest.mark.parametrize(
    "malformed",
    [
        lambda server, vid: {"visit": server.lists[vid]["visit"], "targets": [target(1)]},  # v1
        lambda server, vid: {"visit": server.lists[vid]["visit"], "sealed": "bukan base64!"},
        lambda server, vid: {"visit": server.lists[vid]["visit"] | {"days": 0},
                             "sealed": sealed_answer(server, vid, [target(1)])["sealed"]},
    ],
)
def test_a_malformed_list_is_not_stored_and_is_dropped(
    client: FieldClient, server: OutreachServer, malformed: Any
) -> None:
    visit_id = server.assign([target(1), target(2)])
    server.answer = lambda vid: malformed(server, vid)
    report = client.sync()
    # Breaking the contract will not mend by asking again: dropped like a refusal, feed goes on.
    assert report.pull_error is None
    assert report.visits_refused == [{"visit_id": visit_id, "status": None, "code": "fetch_failed"}]
    assert client.targets(data_key=DK) == [] and cursor(client) == 1
    assert boxes(client.settings.outbox_path) == []


def test_a_list_whose_box_holds_a_malformed_target_opens_to_nothing(
    client: FieldClient, server: OutreachServer
) -> None:
    visit_id = server.assign([target(1), target(2)])
    bad = target(2, nik="12345")  # not a NIK: the whole list is refused, not the good half
    server.answer = lambda vid: sealed_answer(server, vid, [target(1), bad])
    report = client.sync()
    # Sync cannot look inside (no data key): the box is kept as it came, and an operator who
    # opens it gets no target rather than half a list.
    assert report.pull_error is None and report.visits_refused == []
    assert len(boxes(client.settings.outbox_path)) == 1
    assert client.targets(data_key=DK) == [] and cursor(client) == 1
    [visit] = client.visits(data_key=DK)
    assert (visit["id"], visit["targets"], visit["done"]) == (visit_id, 0, 0)


def test_a_list_for_another_visit_is_not_stored(
    client: FieldClient, server: OutreachServer
) -> None:
    first = server.assign([target(1)])
    other = server.assign([target(2)])
    server.answer = lambda vid: sealed_answer(server, other, [target(2)])
    report = client.sync()
    assert report.pull_error is None and server.fetched == [first, other]
    assert [v["id"] for v in client.visits(data_key=DK)] == [other] and cursor(client) == 2
    assert [r["visit_id"] for r in report.visits_refused] == [first]


@pytest.mark.parametrize(
    ("status", "code"), [(403, "not_assigned"), (404, "visit_not_found"), (410, "visit_closed")]
)
def test_a_refused_list_is_dropped_and_the_feed_goes_on(
    client: FieldClient,
    server: OutreachServer,
    caplog: pytest.LogCaptureFixture,
    status: int,
    code: str,
) -> None:
    kept = server.assign([target(1, "TETAP ADA")])
    client.sync()
    refused = server.assign([target(2, "RAHASIA SEKALI")])
    server.outreach_entry("outreach_assigned", kept)  # re-sent after the refused one: applied
    server.refuse[refused] = (status, code)
    with caplog.at_level(logging.WARNING):
        report = client.sync()
    assert report.pull_error is None and report.visits_received == 1
    assert report.visits_refused == [{"visit_id": refused, "status": status, "code": code}]
    assert [v["id"] for v in client.visits(data_key=DK)] == [kept]
    assert cursor(client) == 3
    assert refused in caplog.text and "RAHASIA" not in caplog.text and "6109" not in caplog.text


def test_a_refused_list_removes_an_earlier_copy(
    client: FieldClient, server: OutreachServer
) -> None:
    visit_id = server.assign([target(1)])
    client.sync()
    server.refuse[visit_id] = (403, "not_assigned")  # reassigned to another device
    server.outreach_entry("outreach_assigned", visit_id)
    report = client.sync()
    assert report.visits_removed == 1 and client.visits(data_key=DK) == []


def test_a_revoked_device_stops_the_pull(client: FieldClient, server: OutreachServer) -> None:
    server.assign([target(1)])
    server.refuse[next(iter(server.lists))] = (401, "unauthorized")
    with pytest.raises(DeviceRevoked):
        client.sync()
    assert client.visits(data_key=DK) == [] and cursor(client) == 0


def test_a_closed_visit_leaves_no_trace_in_the_file(
    client: FieldClient, server: OutreachServer
) -> None:
    visit_id = server.assign([target(1, "SERAFINA KUNDANG"), target(2, "WARGA KEDUA")])
    client.sync()
    path = client.settings.outbox_path
    [box] = boxes(path)
    assert [t["nama"] for t in client.targets(data_key=DK)] == ["SERAFINA KUNDANG", "WARGA KEDUA"]
    client.outbox.checkpoint()  # the box is in the database file itself, not only in the WAL
    assert box[32:64] in path.read_bytes()
    server.close(visit_id)
    report = client.sync()
    assert report.visits_removed == 1 and report.pull_error is None
    assert rows(path, "SELECT count(*) FROM outreach_visit") == [(0,)]
    client.close()
    # Deleted with secure_delete and the WAL checkpointed: the bytes are gone, not just the rows
    # (neither in clear, which they never were, nor the box an offline PIN search could open).
    for name in (path, Path(f"{path}-wal")):
        data = name.read_bytes() if name.exists() else b""
        assert b"SERAFINA" not in data and b"6109045708900001" not in data
        assert all(box[i : i + 32] not in data for i in range(0, len(box) - 32, 16))


def test_a_visit_closed_before_the_device_heard_of_it_is_never_fetched(
    client: FieldClient, server: OutreachServer
) -> None:
    visit_id = server.assign([target(1)])
    server.close(visit_id, "cancelled")
    report = client.sync()
    assert server.fetched == [] and client.visits(data_key=DK) == []
    assert report.visits_received == 0 and cursor(client) == 2


def test_an_entry_without_a_usable_visit_id_is_skipped(
    client: FieldClient, server: OutreachServer
) -> None:
    server.outreach_entry("outreach_assigned", "../../sync/push")
    server.feed.append(server.feed[-1] | {"cursor": 2, "visit_id": None})
    report = client.sync()
    assert server.fetched == [] and report.pull_error is None and cursor(client) == 2


def test_finished_visits_leave_on_sync_and_on_open(home: Path, server: OutreachServer) -> None:
    settings = Settings(allow_test_kdf=True, home=home)
    with outreach_client(settings, server) as client:
        server.assign([target(1)], days=2)  # TODAY and the day after
        server.assign([target(2)], start=TODAY - dt.timedelta(days=3))  # over by the clock
        client.sync()
        assert len(client.visits(data_key=DK)) == 2  # just received: kept a day (clock may be off)
    with sqlite3.connect(settings.outbox_path) as conn:  # received two days ago
        conn.execute("UPDATE outreach_visit SET received_at = '2000-01-01T00:00:00Z'")
    with outreach_client(settings, server) as client:
        assert len(client.visits(data_key=DK)) == 1  # the one over: gone on open
    last_day = TODAY + dt.timedelta(days=1)
    with outreach_client(settings, server, today=last_day + dt.timedelta(days=1)) as client:
        assert len(client.visits(data_key=DK)) == 1  # the day after the last day: still there
    with outreach_client(settings, server, today=last_day + dt.timedelta(days=2)) as client:
        assert client.visits(data_key=DK) == []  # removed on open, before anything else
    assert boxes(settings.outbox_path) == []


def test_purge_expired_only_reads_when_nothing_is_due(client: FieldClient) -> None:
    assert purge_expired(client.outbox, TODAY) == 0
    assert not client.outbox.conn.in_transaction
