"""Review fixes: re-registration drops old target lists, a list that keeps failing stops holding
back the feed, and a list just received survives a local clock running ahead."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from field_client.client import FieldClient
from field_client.config import Settings
from field_client.store import targets
from field_client.store.targets import FETCH_FAILURES_META, purge_expired
from shared import datakey
from shared.protocol import PROTOCOL_VERSION
from shared.schemas import OutreachVisitSchema
from shared.sealing import b64
from tests.support.field import DK, biometric_files, biometric_hashes, person
from tests.support.targets import TODAY, OutreachServer, outreach_client, target


@pytest.fixture
def server() -> OutreachServer:
    return OutreachServer(blobs=biometric_hashes())


@pytest.fixture
def client(home: Path, server: OutreachServer) -> Iterator[FieldClient]:
    with outreach_client(Settings(allow_test_kdf=True, home=home), server) as made:
        yield made


def count(path: Path, table: str) -> int:
    """Rows of ``table`` read with a separate connection, as another process would see them."""
    with sqlite3.connect(path) as conn:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def cursor(client: FieldClient) -> int:
    return int(client.outbox.get_meta("pull_cursor") or 0)


# -- 1. register --force ----------------------------------------------------------------------


def test_register_force_deletes_the_old_devices_target_lists(
    client: FieldClient, server: OutreachServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.assign([target(1), target(2)])
    client.sync()
    path = client.settings.outbox_path
    assert count(path, "outreach_visit") == 1 and len(client.targets(data_key=DK)) == 2

    def register(self: Any, code: str, name: str, first_unsent_seq: int,
                 previous_token: str | None = None) -> dict[str, Any]:
        return {
            "device_id": "device-2",
            "token": "t0ken-2",
            "team": "TIM-2",
            "name": name,
            "server_time": "2026-11-27T03:00:00Z",
            "protocol_version": PROTOCOL_VERSION,
            "office_key": {"kid": "k1", "public": "A" * 43 + "="},
        }

    monkeypatch.setattr(
        type(server.transport("http://fake.invalid", client.settings, None)),
        "register",
        register,
        raising=False,
    )
    client.register("http://fake.invalid", "ABCD-EFGH-JKLM", "laptop", force=True)
    assert client.outbox.get_meta("device_id") == "device-2" and cursor(client) == 0
    assert client.visits(data_key=DK) == [] and client.targets(data_key=DK) == []
    assert count(path, "outreach_visit") == 0
    # Checkpointed: the deleted rows are not left in the WAL either.
    wal = path.with_name(path.name + "-wal")
    assert not wal.exists() or wal.stat().st_size == 0


# -- 2. a list that keeps failing -------------------------------------------------------------


def test_a_list_failing_with_a_server_answer_is_dropped_after_three_syncs(
    client: FieldClient, server: OutreachServer
) -> None:
    saved = client.enroll(person(1), "op.a", files=biometric_files(client.home.parent / "s"),
                          data_key=DK)
    client.sync()
    before = cursor(client)
    visit_id = server.assign([target(1)])
    server.status_change(saved.id, "approved")  # held back behind the broken list
    server.refuse[visit_id] = (503, "unavailable")
    for attempt in (1, 2):
        report = client.sync()
        assert report.pull_error is not None and report.visits_refused == []
        assert cursor(client) == before and client.records()[0]["state"] != "approved"
        assert json.loads(client.outbox.get_meta(FETCH_FAILURES_META) or "") == {visit_id: attempt}
    report = client.sync()
    assert report.pull_error is None
    assert report.visits_refused == [{"visit_id": visit_id, "status": None, "code": "fetch_failed"}]
    assert client.records()[0]["state"] == "approved" and cursor(client) == before + 2
    assert client.visits(data_key=DK) == [] and client.outbox.get_meta(FETCH_FAILURES_META) is None
    assert server.fetched == [visit_id] * 3


def test_a_success_in_between_resets_the_count(client: FieldClient, server: OutreachServer) -> None:
    visit_id = server.assign([target(1)])
    server.refuse[visit_id] = (500, "internal")
    client.sync()
    client.sync()
    del server.refuse[visit_id]
    assert client.sync().visits_received == 1
    assert client.outbox.get_meta(FETCH_FAILURES_META) is None
    server.outreach_entry("outreach_assigned", visit_id)
    server.refuse[visit_id] = (500, "internal")
    client.sync()
    assert json.loads(client.outbox.get_meta(FETCH_FAILURES_META) or "") == {visit_id: 1}


def test_no_connection_is_retried_without_counting(
    client: FieldClient, server: OutreachServer
) -> None:
    visit_id = server.assign([target(1)])
    server.cut_targets = True
    for _ in range(5):
        report = client.sync()
        assert report.pull_error is not None and report.visits_refused == []
    assert cursor(client) == 0 and client.outbox.get_meta(FETCH_FAILURES_META) is None
    server.cut_targets = False
    assert client.sync().visits_received == 1
    assert len(client.targets(visit_id=visit_id, data_key=DK)) == 1


def test_an_answer_that_is_not_json_is_counted_not_dropped_at_once(
    client: FieldClient, server: OutreachServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    visit_id = server.assign([target(1)])
    fetch = server.wsgi

    def cut_body(environ: dict[str, Any], start_response: Any) -> Any:
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b'{"visit": ']

    monkeypatch.setattr(server, "wsgi", cut_body)
    assert client.sync().visits_refused == []
    assert json.loads(client.outbox.get_meta(FETCH_FAILURES_META) or "") == {visit_id: 1}
    monkeypatch.setattr(server, "wsgi", fetch)


def test_the_dropped_visit_is_logged_without_personal_data(
    client: FieldClient, server: OutreachServer, caplog: pytest.LogCaptureFixture
) -> None:
    visit_id = server.assign([target(1, "SITI RAHAYU")])
    server.answer = lambda vid: {"visit": server.lists[vid]["visit"], "targets": [{"nik": "1"}]}
    report = client.sync()
    assert [r["code"] for r in report.visits_refused] == ["fetch_failed"]
    assert visit_id in caplog.text
    assert "SITI" not in caplog.text and "6109045708900001" not in caplog.text


# -- 3. the local purge and a clock running ahead ---------------------------------------------


def test_a_list_just_received_survives_a_clock_running_ahead(home: Path) -> None:
    server = OutreachServer(blobs=biometric_hashes())
    ahead = TODAY + dt.timedelta(days=10)  # the laptop's clock says ten days later
    with outreach_client(Settings(allow_test_kdf=True, home=home), server, today=ahead) as client:
        server.assign([target(1)])  # a visit for the real today
        report = client.sync()
        assert report.visits_received == 1 and report.visits_removed == 0
        assert len(client.visits(data_key=DK)) == 1
        now = dt.datetime.now(dt.UTC)
        assert purge_expired(client.outbox, ahead, now + dt.timedelta(hours=23)) == 0
        assert len(client.visits(data_key=DK)) == 1
        # A day after it arrived, by the same clock: the finished visit goes.
        assert purge_expired(client.outbox, ahead, now + dt.timedelta(hours=25)) == 1
        assert client.visits(data_key=DK) == [] and client.targets(data_key=DK) == []


def test_a_visit_not_finished_is_kept_however_old_the_list(client: FieldClient) -> None:
    answer = {
        "visit": OutreachVisitSchema().load(
            {
                "id": "v-1",
                "desa_kode": "61.09.04.2006",
                "desa_nama": "TEMBAGA",
                "visit_date": TODAY.isoformat(),
                "ends_on": TODAY.isoformat(),
                "days": 1,
                "team": "TIM-1",
                "state": "planned",
                "target_count": 1,
            }
        ),
        "sealed": b64(datakey.encrypt_json(DK, {"targets": [target(1)]})),
    }
    with client.outbox.atomic():
        targets.store_visit(client.outbox, answer, "2000-01-01T00:00:00Z")
    assert purge_expired(client.outbox, TODAY + dt.timedelta(days=1)) == 0  # the day after
    assert purge_expired(client.outbox, TODAY + dt.timedelta(days=2)) == 1


def test_the_sync_summary_says_a_list_was_given_up_or_refused() -> None:
    from field_client.cli.text import visit_notes
    from field_client.sync.report import SyncReport

    report = SyncReport()
    report.visits_refused = [{"visit_id": "v1", "status": None, "code": "fetch_failed"},
                             {"visit_id": "v2", "status": 403, "code": "not_assigned"}]
    given_up, refused = visit_notes(report)
    assert "v1" in given_up and "berulang kali" in given_up and "HTTP" not in given_up
    assert "v2" in refused and "HTTP 403" in refused
