"""Fixing a record the office sent back: ``FieldClient.fix`` and ``jemput-field fix``."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from field_client.cli import main as cli
from field_client.client import FieldClient
from field_client.config import Settings
from field_client.errors import CaptureInvalid, FixRefused
from field_client.store import blobs, records
from shared import datakey
from tests.support.fakes import FakeServer, registered_client
from tests.support.field import biometric_files, biometric_hashes, opened, person, write_file
from tests.support.field_ui import PIN, prepare_device
from tests.support.keys import DATA_KEY as DK

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
        person(index), "op.a", files=files, exceptions={"finger_l_little": "amputated"},
        data_key=DK,
    )
    client.sync()
    server.status_change(saved.id, "needs_fix", REASON)
    client.sync()
    return saved.id


def body(client: FieldClient, record_id: str) -> dict[str, Any]:
    """A saved record as the office opens it (the laptop keeps it sealed)."""
    return opened(client, record_id)


def snapshot(client: FieldClient) -> tuple[Any, ...]:
    """Everything a fix could write: record rows, file rows, meta, the files folder."""
    rows = [tuple(r) for r in client.outbox.rows("SELECT * FROM record ORDER BY seq")]
    files = [tuple(r) for r in client.outbox.rows("SELECT * FROM file ORDER BY record_id, role")]
    folder = client.settings.files_dir
    names = sorted(p.name for p in folder.iterdir()) if folder.exists() else []
    return rows, files, client.outbox.meta(), names


def test_needs_fix_record_shows_the_office_reason(client: FieldClient, server: FakeServer) -> None:
    old = sent_back(client, server)
    [row] = client.records("needs_fix", data_key=DK)
    assert (row["id"], row["reason"], row["server_state"]) == (old, REASON, "needs_fix")
    # The reason names the resident: it rests under the data key, never in clear.
    [bare] = client.records("needs_fix")
    assert bare["reason"] is None and bare["error_message"] is None
    client.outbox.checkpoint()
    assert b"MARIA GORETI" not in client.settings.outbox_path.read_bytes()


def test_fix_saves_a_new_version_that_supersedes_the_old(
    client: FieldClient, server: FakeServer
) -> None:
    old = sent_back(client, server)
    saved = client.fix(old, {"nama": "maria goreti"}, data_key=DK)
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
        operator="op.b", data_key=DK
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
    first = client.fix(old, {"desa_kode": OTHER_DESA}, data_key=DK)
    report = client.sync()
    assert report.rejected == 1
    by_id = {r["id"]: r for r in client.records(data_key=DK)}
    assert by_id[first.id]["state"] == "rejected"
    assert by_id[old]["state"] == "needs_fix"
    assert "Perbaikan seq 2 ditolak server" in by_id[old]["error_message"]
    assert by_id[old]["reason"] == REASON  # the office's reason is still there, under DK
    second = client.fix(old, {"nama": "MARIA GORETI"}, data_key=DK)  # can be fixed again
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
    client.enroll(person(2), "op.a", files=scans(client), data_key=DK)  # seq 2: ready
    before = snapshot(client)
    with pytest.raises(error) as caught:
        client.fix(ref, changes, data_key=DK)
    shown = " ".join(caught.value.lines()) if isinstance(caught.value, CaptureInvalid) else ""
    assert text in shown + str(caught.value)
    assert snapshot(client) == before


def test_fixing_twice_names_the_fix_and_writes_nothing(
    client: FieldClient, server: FakeServer
) -> None:
    old = sent_back(client, server)
    client.fix(old, {"nama": "MARIA GORETI"}, data_key=DK)
    before = snapshot(client)
    with pytest.raises(FixRefused, match="sudah diperbaiki oleh rekaman seq 2"):
        client.fix(old, {"nama": "MARIA GORETTY"}, data_key=DK)
    assert snapshot(client) == before


def test_missing_files_are_refused_and_nothing_is_written(
    client: FieldClient, server: FakeServer, tmp_path: Path
) -> None:
    old = sent_back(client, server)
    before = snapshot(client)
    with pytest.raises(CaptureInvalid) as caught:
        client.fix(old, files={"photo": tmp_path / "nowhere.jpg"}, data_key=DK)
    assert "tidak ditemukan" in " ".join(caught.value.lines())
    assert snapshot(client) == before
    # A file of the old record gone from the device: the fix names it by hash (the office sent
    # the record back, so the server holds its files) and nothing needs typing again.
    signature = next(f for f in records.files_of(client.outbox, old) if f["role"] == "signature")
    (client.settings.home / blobs.relative_path(signature["sha256"])).unlink()
    saved = client.fix(old, {"nama": "MARIA GORETI"}, data_key=DK)
    new = body(client, saved.id)
    assert new["payload"]["nama"] == "MARIA GORETI"
    assert {"role": "signature", "sha256": signature["sha256"], "size": signature["size"],
            "media_type": signature["media_type"]} in new["attachments"]
    assert client.sync().accepted == 1
    assert {r["id"]: r["state"] for r in client.records()}[saved.id] == "complete"


def test_the_client_mirrors_superseded_duplicate_and_needs_fix(
    client: FieldClient, server: FakeServer, home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = scans(client)
    ids = [client.enroll(person(i), "op.a", files=files, data_key=DK).id for i in (1, 2, 3)]
    client.sync()
    server.status_change(ids[0], "needs_fix", REASON)
    server.status_change(ids[1], "duplicate", f"duplikat dari {ids[2]}")
    server.status_change(ids[2], "superseded")  # e.g. fixed from another copy of the outbox
    assert client.sync().pulled == 3
    by_id = {r["id"]: r for r in client.records(data_key=DK)}
    mirrored = [
        (by_id[i]["state"], by_id[i]["server_state"], by_id[i]["reason"]) for i in ids
    ]
    assert mirrored == [
        ("needs_fix", "needs_fix", REASON),
        ("rejected", "duplicate", f"duplikat dari {ids[2]}"),
        ("superseded", "superseded", None),
    ]
    assert all(by_id[i]["error_message"] is None for i in ids)  # the reasons rest under DK
    assert client.status()["counts"]["superseded"] == 1
    client.close()
    code, out, _ = cli_run(home, capsys, "records")
    assert code == 0 and "ditolak: duplikat" in out and "diganti versi baru" in out


def test_outbox_has_the_supersedes_index(client: FieldClient) -> None:
    names = {row["name"] for row in client.outbox.rows("PRAGMA index_list(record)")}
    assert "record_supersedes" in names


# -- CLI ----------------------------------------------------------------------------------


@pytest.fixture
def typed_pin(monkeypatch: pytest.MonkeyPatch) -> None:
    """The operator's PIN on standard input (``--pin-stdin``), at the tests' KDF cost."""
    monkeypatch.setenv("JEMPUT_TEST_KDF", "1")
    monkeypatch.setattr(sys, "stdin", io.StringIO(f"{PIN}\n" * 5))


def returned_home(home: Path) -> tuple[str, Path]:
    """A device (its operator logs in with PIN) with one record (seq 1) in needs_fix, sent back
    as a pull would (the reason and the record's data under the data key); returns its id."""
    settings = Settings(allow_test_kdf=True, home=home)
    prepare_device(settings)
    with FieldClient(settings=settings) as client:
        client.set_default_operator("op.suryadi")
        saved = client.enroll(person(1), "op.a", files=scans(client), data_key=DK)
        record = opened(client, saved.id)
        returned = datakey.encrypt_json(DK, {"reason": REASON, "record": {
            key: record[key] for key in ("payload", "attachments", "exceptions")}})
        with client.outbox.atomic():
            client.outbox.execute("UPDATE record SET state = 'sent' WHERE id = ?", (saved.id,))
            records.apply_status(client.outbox, saved.id, "needs_fix", "needs_fix", returned,
                                 records.utc_now())
        client.enroll(person(2), "op.a", files=scans(client), data_key=DK)  # seq 2 stays ready
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
    home: Path, capsys: pytest.CaptureFixture[str], typed_pin: None
) -> None:
    old, _ = returned_home(home)
    code, out, _ = cli_run(home, capsys, "records", "--state", "needs_fix")
    assert code == 0 and REASON not in out and "--details" in out  # no PIN: no reason
    assert "jemput-field fix 1" in out
    code, out, _ = cli_run(home, capsys, "records", "--state", "needs_fix", "--details",
                           "--pin-stdin")
    assert code == 0 and f"alasan kantor: {REASON}" in out and "jemput-field fix 1" in out
    assert "1 rekaman." in out
    code, out, _ = cli_run(home, capsys, "status")
    assert "1 rekaman dikembalikan kantor untuk diperbaiki" in out
    code, out, err = cli_run(
        home, capsys, "fix", old, "--set", "nama=maria goreti", "--set", "golongan-darah=a",
        "--pin-stdin",
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


def test_cli_fix_from_json_file(
    home: Path, capsys: pytest.CaptureFixture[str], typed_pin: None
) -> None:
    old, _ = returned_home(home)
    changes = home.parent / "changes.json"
    changes.write_text(json.dumps({"nama": "MARIA GORETI", "alamat": "DUSUN TEMBAGA HILIR"}))
    code, out, _ = cli_run(home, capsys, "fix", old, "--json", str(changes), "--pin-stdin")
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
    home: Path, capsys: pytest.CaptureFixture[str], typed_pin: None, args: list[str], text: str
) -> None:
    returned_home(home)
    before = outbox_rows(home)
    code, out, err = cli_run(home, capsys, *args, "--pin-stdin")
    assert code == 1 and text in err and "Perbaikan tersimpan" not in out
    assert outbox_rows(home) == before


def test_cli_fix_needs_the_operators_pin_and_writes_nothing_without_it(
    home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    old, _ = returned_home(home)
    monkeypatch.setenv("JEMPUT_TEST_KDF", "1")
    before = outbox_rows(home)
    monkeypatch.setattr(sys, "stdin", io.StringIO("12345678\n"))  # a wrong PIN
    code, out, err = cli_run(home, capsys, "fix", old, "--set", "nama=X", "--pin-stdin")
    assert code == 1 and "PIN salah" in err and "Perbaikan tersimpan" not in out
    monkeypatch.setattr(sys, "stdin", io.StringIO(f"{PIN}\n"))  # not a terminal: no prompt
    code, out, err = cli_run(home, capsys, "fix", old, "--set", "nama=X")
    assert code == 1 and "--pin-stdin" in err and "Perbaikan tersimpan" not in out
    assert outbox_rows(home) == before
