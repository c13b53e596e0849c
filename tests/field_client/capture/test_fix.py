"""Fixing a record the office sent back: ``FieldClient.fix`` and ``jemput-field fix``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from field_client.cli import main as cli
from field_client.client import FieldClient
from field_client.config import Settings
from field_client.errors import CaptureInvalid, FixRefused
from field_client.store import records
from tests.support.fakes import FakeServer, registered_client
from tests.support.field import biometric_files, biometric_hashes, person, write_file

REASON = "Nama tidak sesuai KK: tulis MARIA GORETI."
OTHER_DESA = "61.09.04.2001"


@pytest.fixture
def server() -> FakeServer:
    return FakeServer(blobs=biometric_hashes())  # it holds the test recording's files


@pytest.fixture
def client(home: Path, server: FakeServer) -> Iterator[FieldClient]:
    with registered_client(Settings(allow_test_kdf=True, home=home, batch_size=4), server) as made:
        yield made


def scans(client: FieldClient, skip: tuple[str, ...] = ()) -> dict[str, Path]:
    return biometric_files(client.settings.home.parent / "scans", skip=skip)


def sent_back(client: FieldClient, server: FakeServer, index: int = 1) -> str:
    """A record captured, synced, then returned by the office as needs_fix (and pulled)."""
    files = scans(client, skip=("finger_l_little",))
    saved = client.enroll(
        person(index), "op.a", files=files, exceptions={"finger_l_little": "amputated"}
    )
    client.sync()
    server.status_change(saved.id, "needs_fix", REASON)
    client.sync()
    return saved.id


def body(client: FieldClient, record_id: str) -> dict[str, Any]:
    text = records.body_of(client.outbox, record_id)
    assert text is not None
    return dict(json.loads(text))


def snapshot(client: FieldClient) -> tuple[Any, ...]:
    """Everything a fix could write: record rows, file rows, meta, the files folder."""
    rows = [tuple(r) for r in client.outbox.rows("SELECT * FROM record ORDER BY seq")]
    files = [tuple(r) for r in client.outbox.rows("SELECT * FROM file ORDER BY record_id, role")]
    folder = client.settings.files_dir
    names = sorted(p.name for p in folder.iterdir()) if folder.exists() else []
    return rows, files, client.outbox.meta(), names


def test_needs_fix_record_shows_the_office_reason(client: FieldClient, server: FakeServer) -> None:
    old = sent_back(client, server)
    [row] = client.records("needs_fix")
    assert (row["id"], row["error_message"], row["server_state"]) == (old, REASON, "needs_fix")


def test_fix_saves_a_new_version_that_supersedes_the_old(
    client: FieldClient, server: FakeServer
) -> None:
    old = sent_back(client, server)
    saved = client.fix(old, {"nama": "maria goreti"})
    new = body(client, saved.id)
    before = body(client, old)
    assert saved.id != old and saved.seq == 2 and new["supersedes"] == old
    assert new["payload"] == dict(before["payload"], nama="MARIA GORETI")
    assert new["attachments"] == before["attachments"]  # the same files, by hash
    assert (
        new["exceptions"]
        == before["exceptions"]
        == [{"role": "finger_l_little", "reason": "amputated"}]
    )
    by_id = {r["id"]: r for r in client.records()}
    assert by_id[old]["state"] == "superseded" and by_id[old]["superseded_by"] == saved.id
    assert (by_id[saved.id]["state"], by_id[saved.id]["supersedes"]) == ("ready", old)

    report = client.sync()
    assert report.accepted == 1 and server.stored[saved.id]["supersedes"] == old
    server.status_change(old, "superseded")
    server.status_change(old, "needs_fix", REASON)  # an old entry seen again: no step back
    client.sync()
    by_id = {r["id"]: r for r in client.records()}
    assert by_id[old]["state"] == "superseded"
    assert by_id[saved.id]["state"] == "complete"


def test_fix_by_seq_replaces_files_and_exceptions(
    client: FieldClient, server: FakeServer, tmp_path: Path
) -> None:
    old = sent_back(client, server)
    photo = write_file(tmp_path / "new-photo.jpg", 3500, seed=9)
    finger = write_file(tmp_path / "little.wsq", 1600, seed=8)
    saved = client.fix(
        "1",
        files={"photo": photo, "finger_l_little": finger},
        exceptions={"finger_r_thumb": "bandaged"},
        operator="op.b",
    )
    new, before = body(client, saved.id), body(client, old)
    roles = {a["role"]: a["sha256"] for a in new["attachments"]}
    old_roles = {a["role"]: a["sha256"] for a in before["attachments"]}
    assert roles["photo"] != old_roles["photo"] and "finger_r_thumb" not in roles
    assert roles["finger_l_little"] and roles["signature"] == old_roles["signature"]
    assert new["exceptions"] == [{"role": "finger_r_thumb", "reason": "bandaged"}]
    assert new["operator"] == "op.b" and new["payload"] == before["payload"]


def test_a_fix_the_server_refuses_sends_the_original_back_to_needs_fix(
    client: FieldClient, server: FakeServer
) -> None:
    old = sent_back(client, server)
    server.reject_desa = OTHER_DESA
    first = client.fix(old, {"desa_kode": OTHER_DESA})
    report = client.sync()
    assert report.rejected == 1
    by_id = {r["id"]: r for r in client.records()}
    assert by_id[first.id]["state"] == "rejected"
    assert by_id[old]["state"] == "needs_fix"
    assert "Perbaikan seq 2 ditolak server" in by_id[old]["error_message"]
    assert REASON in by_id[old]["error_message"]
    second = client.fix(old, {"nama": "MARIA GORETI"})  # can be fixed again
    client.sync()
    assert server.stored[second.id]["supersedes"] == old


@pytest.mark.parametrize(
    ("ref", "changes", "error", "text"),
    [
        ("0193a4f2-7c1e-7d2a-9b1e-2f4c8a1d5e60", {"nama": "X"}, FixRefused, "tidak ada di"),
        ("99", {"nama": "X"}, FixRefused, "tidak ada di"),
        ("2", {"nama": "X"}, FixRefused, "bukan needs_fix"),
        ("1", {"nik": "12345"}, CaptureInvalid, "nik"),
        ("1", {"tanggal_lahir": "17-08-1990x"}, CaptureInvalid, "tanggal_lahir"),
        ("1", {"warna": "biru"}, CaptureInvalid, "Kolom tidak dikenal"),
        ("1", {"nama": "maria goretti"}, FixRefused, "Tidak ada yang diubah"),
    ],
)
def test_a_fix_that_cannot_be_made_writes_nothing(
    client: FieldClient,
    server: FakeServer,
    ref: str,
    changes: dict[str, str],
    error: type[Exception],
    text: str,
) -> None:
    sent_back(client, server)
    client.enroll(person(2), "op.a", files=scans(client))  # seq 2: ready, not needs_fix
    before = snapshot(client)
    with pytest.raises(error) as caught:
        client.fix(ref, changes)
    shown = " ".join(caught.value.lines()) if isinstance(caught.value, CaptureInvalid) else ""
    assert text in shown + str(caught.value)
    assert snapshot(client) == before


def test_fixing_twice_names_the_fix_and_writes_nothing(
    client: FieldClient, server: FakeServer
) -> None:
    old = sent_back(client, server)
    client.fix(old, {"nama": "MARIA GORETI"})
    before = snapshot(client)
    with pytest.raises(FixRefused, match="sudah diperbaiki oleh rekaman seq 2"):
        client.fix(old, {"nama": "MARIA GORETTY"})
    assert snapshot(client) == before


def test_missing_files_are_refused_and_nothing_is_written(
    client: FieldClient, server: FakeServer, tmp_path: Path
) -> None:
    old = sent_back(client, server)
    before = snapshot(client)
    with pytest.raises(CaptureInvalid) as caught:
        client.fix(old, files={"photo": tmp_path / "nowhere.jpg"})
    assert "tidak ditemukan" in " ".join(caught.value.lines())
    assert snapshot(client) == before
    # A file of the old record gone from the device: the fix says which to give again.
    signature = next(f for f in records.files_of(client.outbox, old) if f["role"] == "signature")
    (client.settings.files_dir / signature["sha256"]).unlink()
    before = snapshot(client)
    with pytest.raises(CaptureInvalid) as caught:
        client.fix(old, {"nama": "MARIA GORETI"})
    assert "--file signature=PATH" in " ".join(caught.value.lines())
    assert snapshot(client) == before
    again = {"signature": scans(client)["signature"]}
    saved = client.fix(old, {"nama": "MARIA GORETI"}, files=again)
    assert body(client, saved.id)["payload"]["nama"] == "MARIA GORETI"


def test_the_client_mirrors_superseded_duplicate_and_needs_fix(
    client: FieldClient, server: FakeServer, home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = scans(client)
    ids = [client.enroll(person(i), "op.a", files=files).id for i in (1, 2, 3)]
    client.sync()
    server.status_change(ids[0], "needs_fix", REASON)
    server.status_change(ids[1], "duplicate", f"duplikat dari {ids[2]}")
    server.status_change(ids[2], "superseded")  # e.g. fixed from another copy of the outbox
    assert client.sync().pulled == 3
    by_id = {r["id"]: r for r in client.records()}
    mirrored = [
        (by_id[i]["state"], by_id[i]["server_state"], by_id[i]["error_message"]) for i in ids
    ]
    assert mirrored == [
        ("needs_fix", "needs_fix", REASON),
        ("rejected", "duplicate", f"duplikat dari {ids[2]}"),
        ("superseded", "superseded", None),
    ]
    assert client.status()["counts"]["superseded"] == 1
    client.close()
    code, out, _ = cli_run(home, capsys, "records")
    assert code == 0 and "ditolak: duplikat" in out and "diganti versi baru" in out


def test_outbox_has_the_supersedes_index(client: FieldClient) -> None:
    names = {row["name"] for row in client.outbox.rows("PRAGMA index_list(record)")}
    assert "record_supersedes" in names


# -- CLI ----------------------------------------------------------------------------------


def returned_home(home: Path) -> tuple[str, Path]:
    """A home with one record (seq 1) in needs_fix, set as a pull would; returns its id."""
    with FieldClient(settings=Settings(allow_test_kdf=True, home=home)) as client:
        saved = client.enroll(person(1), "op.a", files=scans(client))
        with client.outbox.atomic():
            client.outbox.execute(
                "UPDATE record SET state = 'needs_fix', server_state = 'needs_fix', "
                "error_message = ? WHERE id = ?",
                (REASON, saved.id),
            )
        client.enroll(person(2), "op.a", files=scans(client))  # seq 2 stays ready
    return saved.id, home.parent / "scans"


def cli_run(home: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = cli.main(["--home", str(home), *args])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def outbox_rows(home: Path) -> tuple[Any, ...]:
    with FieldClient(settings=Settings(allow_test_kdf=True, home=home)) as client:
        return snapshot(client)


def test_cli_records_needs_fix_shows_reason_and_fix_works(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old, _ = returned_home(home)
    code, out, _ = cli_run(home, capsys, "records", "--state", "needs_fix")
    assert code == 0 and f"alasan kantor: {REASON}" in out and "jemput-field fix 1" in out
    assert "1 rekaman." in out
    code, out, _ = cli_run(home, capsys, "status")
    assert "1 rekaman dikembalikan kantor untuk diperbaiki" in out
    code, out, err = cli_run(
        home, capsys, "fix", old, "--set", "nama=maria goreti", "--set", "golongan-darah=a"
    )
    assert code == 0, err
    assert "Perbaikan tersimpan aman" in out and "seq 3" in out
    code, out, _ = cli_run(home, capsys, "records", "--json")
    rows = {r["seq"]: r for r in json.loads(out)}
    assert rows[1]["state"] == "superseded" and rows[3]["supersedes"] == old
    code, out, _ = cli_run(home, capsys, "records", "--state", "superseded")
    assert f"diganti oleh rekaman {rows[3]['id']}" in out and "diganti versi baru" in out
    with FieldClient(settings=Settings(allow_test_kdf=True, home=home)) as client:
        payload = body(client, rows[3]["id"])["payload"]
    assert payload["nama"] == "MARIA GORETI" and payload["golongan_darah"] == "A"


def test_cli_fix_from_json_file(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old, _ = returned_home(home)
    changes = home.parent / "changes.json"
    changes.write_text(json.dumps({"nama": "MARIA GORETI", "alamat": "DUSUN TEMBAGA HILIR"}))
    code, out, _ = cli_run(home, capsys, "fix", old, "--json", str(changes))
    assert code == 0 and "Perbaikan tersimpan aman" in out
    with FieldClient(settings=Settings(allow_test_kdf=True, home=home)) as client:
        [new] = [r for r in client.records() if r["supersedes"] == old]
        assert body(client, new["id"])["payload"]["alamat"] == "DUSUN TEMBAGA HILIR"


@pytest.mark.parametrize(
    ("args", "text"),
    [
        (["fix", "0193a4f2-7c1e-7d2a-9b1e-2f4c8a1d5e60", "--set", "nama=X"], "tidak ada di"),
        (["fix", "2", "--set", "nama=X"], "bukan needs_fix"),
        (["fix", "1", "--set", "nik=61090457"], "nik:"),
        (["fix", "1", "--set", "jenis_kelamin=L"], "jenis_kelamin:"),
        (["fix", "1", "--file", "photo=/nowhere/photo.jpg"], "tidak ditemukan"),
        (["fix", "1", "--json", "/nowhere/changes.json"], "tidak dapat dibaca"),
        (["fix", "1"], "Tidak ada yang diubah"),
        (["fix", "1", "--set", "nama=X", "--set", "nama=Y"], "disebut dua kali"),
    ],
)
def test_cli_fix_bad_input_exits_1_and_writes_nothing(
    home: Path, capsys: pytest.CaptureFixture[str], args: list[str], text: str
) -> None:
    returned_home(home)
    before = outbox_rows(home)
    code, out, err = cli_run(home, capsys, *args)
    assert code == 1 and text in err and "Perbaikan tersimpan" not in out
    assert outbox_rows(home) == before
