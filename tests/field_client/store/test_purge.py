"""Purge: only records the server confirmed complete, only after the retention period."""

from __future__ import annotations

import os
from pathlib import Path

from field_client.client import FieldClient
from field_client.store import blobs
from tests.support.field import NOW, biometric_files, opened, person, set_state
from tests.support.keys import DATA_KEY as DK


def test_purge_removes_only_old_confirmed_records(
    field_client: FieldClient, tmp_path: Path
) -> None:
    shared_files = biometric_files(tmp_path / "shared", seed=1)
    own_files = biometric_files(tmp_path / "own", seed=2)
    other_files = biometric_files(tmp_path / "other", seed=3)
    old_done = field_client.enroll(person(1), "op.a", files=own_files, data_key=DK)
    old_shared = field_client.enroll(person(2), "op.a", files=shared_files, data_key=DK)
    recent = field_client.enroll(person(3), "op.a", files=shared_files, data_key=DK)
    others = {
        state: field_client.enroll(person(10 + i), "op.a", files=other_files, data_key=DK).id
        for i, state in enumerate(("ready", "sent", "rejected", "needs_fix"))
    }
    set_state(field_client, old_done.id, "complete", 31)
    set_state(field_client, old_shared.id, "printed", 45)
    set_state(field_client, recent.id, "complete", 29)
    for state, record_id in others.items():
        set_state(field_client, record_id, state, 400)

    report = field_client.purge(now=NOW)

    # Only old_done's own files go: the shared ones are still used by the recent record.
    assert (report.records, report.files) == (2, len(own_files))
    by_id = {r["id"]: r for r in field_client.records(data_key=DK)}
    for gone in (old_done.id, old_shared.id):
        assert by_id[gone]["purged"] and by_id[gone]["nama"] is None
        row = field_client.outbox.rows("SELECT * FROM record WHERE id = ?", (gone,))[0]
        assert (row["sealed"], row["label"], row["returned"], row["nik_mac"]) == (None,) * 4
        assert row["seq"] and row["record_sha256"]  # the row itself stays: its seq counts
    for kept in (recent.id, *others.values()):
        assert not by_id[kept]["purged"] and by_id[kept]["nama"]
        assert opened(field_client, kept)["id"] == kept
    files = {p.name for p in field_client.settings.files_dir.iterdir()}
    kept_files = records_shas(field_client, recent.id) | records_shas(field_client, others["ready"])
    assert files == {blobs.relative_path(sha).split("/")[-1] for sha in kept_files}
    assert len(files) == len(shared_files) + len(other_files)
    assert field_client.purge(now=NOW) == type(report)(0, 0)  # nothing twice


def test_purged_rows_keep_their_seq(field_client: FieldClient, tmp_path: Path) -> None:
    files = biometric_files(tmp_path / "scans")
    first = field_client.enroll(person(1), "op.a", files=files, data_key=DK)
    set_state(field_client, first.id, "complete", 90)
    field_client.purge(now=NOW)
    assert field_client.enroll(person(2), "op.a", files=files, data_key=DK).seq == 2
    assert field_client.status()["counts"]["complete"] == 1


def records_shas(client: FieldClient, record_id: str) -> set[str]:
    rows = client.outbox.rows("SELECT sha256 FROM file WHERE record_id = ?", (record_id,))
    return {str(row["sha256"]) for row in rows}


def test_purge_sweeps_old_half_copied_files(field_client: FieldClient) -> None:
    files_dir = field_client.settings.files_dir
    files_dir.mkdir(parents=True)
    old, fresh = files_dir / ".incoming-old", files_dir / ".incoming-new"
    old.write_bytes(b"x")
    fresh.write_bytes(b"y")
    os.utime(old, (0, 0))
    field_client.purge(now=NOW)
    assert not old.exists() and fresh.exists()


def test_purge_takes_old_versions_the_server_confirmed_superseded(
    field_client: FieldClient, tmp_path: Path
) -> None:
    files = biometric_files(tmp_path / "scans")
    confirmed = field_client.enroll(person(1), "op.a", files=files, data_key=DK)
    local_only = field_client.enroll(person(2), "op.a", files=files, data_key=DK)
    newer = field_client.enroll(person(3), "op.a", files=files, data_key=DK)  # the same files
    for saved, server_state in ((confirmed, "superseded"), (local_only, "needs_fix")):
        set_state(field_client, saved.id, "complete", 60)  # complete, then sent back and fixed
        with field_client.outbox.atomic():
            field_client.outbox.execute(
                "UPDATE record SET state = 'superseded', server_state = ? WHERE id = ?",
                (server_state, saved.id),
            )
    report = field_client.purge(now=NOW)
    assert (report.records, report.files) == (1, 0)  # the newer version still uses the files
    by_id = {r["id"]: r for r in field_client.records()}
    assert by_id[confirmed.id]["purged"] and by_id[confirmed.id]["state"] == "superseded"
    assert not by_id[local_only.id]["purged"] and not by_id[newer.id]["purged"]
