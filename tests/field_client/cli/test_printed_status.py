"""The device shows when a card was printed (or a Suket issued): the office's date, in WIB."""

from __future__ import annotations

import contextlib
import itertools
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from field_client.cli import main as cli
from field_client.cli.text import record_notes
from field_client.client import FieldClient
from field_client.config import Settings
from field_client.store.migrations import MIGRATIONS
from field_client.store.outbox import SCHEMA_VERSION, open_outbox
from field_client.store.records import local_date
from tests.support.fakes import FakeServer, registered_client
from tests.support.field import biometric_files, biometric_hashes, person
from tests.support.keys import DATA_KEY as DK


@pytest.fixture
def server() -> FakeServer:
    return FakeServer(blobs=biometric_hashes())


@pytest.fixture
def client(home: Path, server: FakeServer) -> Iterator[FieldClient]:
    with registered_client(Settings(allow_test_kdf=True, home=home, batch_size=4), server) as made:
        yield made


def _feed(server: FakeServer, record_id: str, state: str, at: str) -> None:
    server.feed.append({"cursor": len(server.feed) + 1, "kind": "record_status",
                        "record_id": record_id, "state": state, "reason": None, "at": at})


def _saved(client: FieldClient, index: int = 1) -> str:
    files = biometric_files(client.settings.home.parent / "scans")
    saved = client.enroll(person(index), "op.a", files=files, data_key=DK)
    client.sync()
    return saved.id


def test_printed_shows_the_office_date(client: FieldClient, server: FakeServer, home: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    record_id = _saved(client)
    _feed(server, record_id, "approved", "2026-11-20T02:00:00Z")
    _feed(server, record_id, "printed", "2026-11-28T18:30:00Z")  # 29-11 01:30 WIB
    client.sync()
    [row] = client.records()
    assert (row["state"], row["server_state_at"]) == ("printed", "2026-11-28T18:30:00Z")
    assert record_notes(row) == ["sudah dicetak 29-11-2026"]
    client.close()
    assert cli.main(["--home", str(home), "records"]) == 0
    out = capsys.readouterr().out
    assert "sudah dicetak 29-11-2026" in out


def test_suket_issued_then_printed(client: FieldClient, server: FakeServer) -> None:
    record_id = _saved(client)
    _feed(server, record_id, "suket_issued", "2026-11-27T03:00:00Z")
    client.sync()
    [row] = client.records()
    assert record_notes(row) == ["Suket terbit 27-11-2026"]
    _feed(server, record_id, "printed", "2026-12-15T04:00:00Z")
    client.sync()
    [row] = client.records()
    assert record_notes(row) == ["sudah dicetak 15-12-2026"]


def test_a_feed_entry_without_a_time_shows_no_date(client: FieldClient,
                                                   server: FakeServer) -> None:
    record_id = _saved(client)
    server.feed.append({"cursor": len(server.feed) + 1, "kind": "record_status",
                        "record_id": record_id, "state": "printed", "reason": None})
    client.sync()
    [row] = client.records()
    assert row["server_state_at"] is None and record_notes(row) == ["sudah dicetak"]


@pytest.fixture(autouse=True)
def _laptop_in_kalimantan_barat(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The laptop's clock on WIB (Asia/Pontianak), as in Sekadau: days are the laptop's days."""
    monkeypatch.setenv("TZ", "Asia/Pontianak")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.parametrize("text, day", [
    ("2026-11-28T17:00:00Z", "29-11-2026"), ("2026-11-28T16:59:59Z", "28-11-2026"),
    ("2026-11-28T10:00:00+00:00", "28-11-2026"), ("bukan tanggal", None), (None, None),
    ("", None),
])
def test_the_day_on_the_laptops_clock(text: str | None, day: str | None) -> None:
    assert local_date(text) == day


def test_an_older_outbox_gains_the_column(settings: Settings) -> None:
    settings.outbox_path.parent.mkdir(parents=True)
    with contextlib.closing(sqlite3.connect(settings.outbox_path)) as old, old:
        for statement in itertools.chain(*MIGRATIONS[:4]):  # schema 4: before this column came
            old.execute(statement)
        old.execute("PRAGMA user_version = 4")
    with open_outbox(settings.outbox_path) as upgraded:
        assert upgraded.scalar("PRAGMA user_version") == SCHEMA_VERSION
        columns = {row["name"] for row in upgraded.rows("PRAGMA table_info(record)")}
        assert "server_state_at" in columns


def test_a_card_printed_at_the_office_reaches_the_device(home: Path, live_server: Any) -> None:
    """The real server: print_card's feed entry carries its time; the device shows the day."""
    from sqlalchemy import update

    from server.accounts.actor import Actor
    from server.cards import blanko, printing
    from server.core.extensions import db
    from server.core.models import Enrollment

    boss = Actor("sari", "supervisor")
    with FieldClient(settings=Settings(allow_test_kdf=True, home=home, read_timeout=10)) as device:
        device.register(live_server.url, live_server.registration_code("TIM-A"), "laptop-1")
        saved = device.enroll(person(1), "op.a",
                              files=biometric_files(home.parent / "scans"), data_key=DK)
        device.sync()
        with live_server.app.app_context():
            # An approval straight in (the review flow has its own tests), then the print.
            db.session.execute(update(Enrollment).where(Enrollment.id == saved.id)
                               .values(state="approved"))
            db.session.commit()
            blanko.receive(1, "470/1/DUKCAPIL", actor=boss)
            job = printing.print_card(saved.id, actor=boss)
            day = job.printed_at.astimezone().strftime("%d-%m-%Y")  # the laptop's day
        device.sync()
        [row] = device.records()
        assert row["state"] == "printed"
        assert record_notes(row) == [f"sudah dicetak {day}"]
