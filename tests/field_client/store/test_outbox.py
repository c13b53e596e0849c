"""The outbox: durable settings, explicit transactions, schema versions, bad files and disks."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from field_client.client import FieldClient
from field_client.config import Settings
from field_client.errors import OutboxCorrupt, OutboxIncompatible, StorageError
from field_client.store.outbox import SCHEMA_VERSION, Outbox, open_outbox
from tests.support.field import biometric_files, person, states
from tests.support.keys import DATA_KEY as DK


def test_durable_pragmas_and_schema_version(outbox: Outbox) -> None:
    assert outbox.scalar("PRAGMA journal_mode") == "wal"
    assert outbox.scalar("PRAGMA synchronous") == 2  # FULL
    assert outbox.scalar("PRAGMA foreign_keys") == 1
    assert outbox.scalar("PRAGMA user_version") == SCHEMA_VERSION >= 1
    tables = {r[0] for r in outbox.rows("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"meta", "record", "file"} <= tables
    assert outbox.get_meta("next_seq") == "1"
    assert outbox.get_meta("pull_cursor") == "0"


def test_reopen_keeps_data_and_does_not_migrate_again(settings: Settings) -> None:
    with open_outbox(settings.outbox_path) as first, first.atomic():
        first.set_meta("device_name", "laptop-1")
    with open_outbox(settings.outbox_path) as again:
        assert again.get_meta("device_name") == "laptop-1"
        assert again.scalar("PRAGMA user_version") == SCHEMA_VERSION


def test_outbox_file_is_private(outbox: Outbox) -> None:
    assert (outbox.path.stat().st_mode & 0o777) == 0o600


def test_atomic_rolls_back_on_error(outbox: Outbox) -> None:
    with pytest.raises(RuntimeError), outbox.atomic():
        outbox.set_meta("team", "TIM-1")
        raise RuntimeError("boom")
    assert outbox.get_meta("team") is None
    assert not outbox.conn.in_transaction


def test_nested_atomic_rolls_back_only_the_inner_block(outbox: Outbox) -> None:
    with outbox.atomic():
        outbox.set_meta("team", "TIM-1")
        with pytest.raises(ValueError), outbox.atomic():
            outbox.set_meta("device_name", "inner")
            raise ValueError
        assert outbox.in_transaction
    assert outbox.get_meta("team") == "TIM-1"
    assert outbox.get_meta("device_name") is None


def test_allocate_seq_needs_a_transaction(outbox: Outbox) -> None:
    with pytest.raises(RuntimeError):
        outbox.allocate_seq()


def test_seq_is_never_reused_even_after_rollback_or_deletion(
    field_client: FieldClient, tmp_path: Path
) -> None:
    outbox = field_client.outbox
    files = biometric_files(tmp_path / "scans")
    first = field_client.enroll(person(1), "op.a", files=files, data_key=DK)
    with pytest.raises(RuntimeError), outbox.atomic():
        assert outbox.allocate_seq() == 2
        raise RuntimeError("not saved")
    second = field_client.enroll(person(2), "op.a", files=files, data_key=DK)
    # A record removed by hand (or purged) never frees its number.
    with outbox.atomic():
        outbox.execute("DELETE FROM record WHERE seq = ?", (second.seq,))
    third = field_client.enroll(person(3), "op.a", files=files, data_key=DK)
    assert (first.seq, second.seq, third.seq) == (1, 2, 3)


def test_garbage_file_is_refused_and_left_untouched(settings: Settings) -> None:
    path = settings.outbox_path
    path.parent.mkdir(parents=True)
    garbage = os.urandom(4096)
    path.write_bytes(garbage)
    with pytest.raises(OutboxCorrupt) as caught:
        FieldClient(settings=settings)
    assert str(path) in caught.value.message
    assert "tidak dihapus" in caught.value.message
    assert path.read_bytes() == garbage
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]


def test_damaged_pages_behind_a_valid_header_are_refused(
    field_client: FieldClient, tmp_path: Path
) -> None:
    files = biometric_files(tmp_path / "scans")
    for index in range(1, 40):
        field_client.enroll(person(index), "op.a", files=files, data_key=DK)
    path = field_client.settings.outbox_path
    field_client.close()
    _checkpoint(path)
    data = bytearray(path.read_bytes())
    data[4096:] = os.urandom(len(data) - 4096)  # every page after the header page
    path.write_bytes(bytes(data))
    before = path.read_bytes()
    with pytest.raises(OutboxCorrupt):
        FieldClient(settings=field_client.settings)
    assert path.read_bytes() == before


def test_newer_schema_is_refused_without_change(settings: Settings) -> None:
    with open_outbox(settings.outbox_path) as outbox:
        outbox.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    before = settings.outbox_path.read_bytes()
    with pytest.raises(OutboxIncompatible):
        open_outbox(settings.outbox_path)
    assert settings.outbox_path.read_bytes() == before


def test_disk_full_is_a_storage_error_and_saved_records_survive(
    field_client: FieldClient, tmp_path: Path
) -> None:
    saved = field_client.enroll(person(1), "op.a", files=biometric_files(tmp_path / "scans"),
                                data_key=DK)
    outbox = field_client.outbox
    pages = outbox.scalar("PRAGMA page_count")
    outbox.execute(f"PRAGMA max_page_count = {pages}")  # a real SQLITE_FULL on the next growth
    with pytest.raises(StorageError) as caught, outbox.atomic():
        for index in range(200):
            outbox.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?)", (f"filler{index}", "x" * 4000)
            )
    assert "penuh" in caught.value.message
    assert not outbox.conn.in_transaction
    assert outbox.scalar("SELECT count(*) FROM meta WHERE key LIKE 'filler%'") == 0
    assert [r["id"] for r in field_client.records()] == [saved.id]
    assert states(field_client.settings.outbox_path) == {"ready": 1}


def test_read_only_outbox_is_a_storage_error_and_nothing_changes(
    field_client: FieldClient, tmp_path: Path
) -> None:
    saved = field_client.enroll(person(1), "op.a", files=biometric_files(tmp_path / "first"),
                                data_key=DK)
    files_before = sorted(field_client.settings.files_dir.iterdir())
    # Tests run as root, which ignores file modes: query_only is SQLite's own read-only switch.
    field_client.outbox.execute("PRAGMA query_only = ON")
    with pytest.raises(StorageError) as caught:
        field_client.enroll(person(2), "op.a", files=biometric_files(tmp_path / "next", seed=1),
                            data_key=DK)
    assert "hanya-baca" in caught.value.message
    field_client.outbox.execute("PRAGMA query_only = OFF")
    assert [r["id"] for r in field_client.records()] == [saved.id]
    assert field_client.outbox.get_meta("next_seq") == "2"
    assert sorted(field_client.settings.files_dir.iterdir()) == files_before  # no new file


def test_home_that_cannot_be_created_is_a_storage_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    with pytest.raises(StorageError):
        open_outbox(blocker / "home" / "outbox.sqlite3")


def test_outbox_path_that_is_a_folder_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "outbox.sqlite3"
    folder.mkdir()
    with pytest.raises(OutboxCorrupt):
        open_outbox(folder)
    assert folder.is_dir()


def _checkpoint(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
