"""Target lists on the device, offline: search, done marks, prefill, and the CLI around them."""

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
from field_client.config import Settings, load_settings
from field_client.errors import OutboxBusy, UsageInvalid
from field_client.store import targets
from field_client.store.targets import fold
from shared import datakey
from tests.support.field import biometric_files, biometric_hashes, opened, person, set_state
from tests.support.field_ui import OPERATOR, PIN, prepare_device, profile_document
from tests.support.keys import DATA_KEY as DK
from tests.support.targets import DESA, OutreachServer, outreach_client, target

NAMES = {
    1: "MARIA GORETTI",
    2: "Maria Magdalena Sinaga",
    3: "JOSÉ DA COSTA",
    4: "YOHANES O'NEIL",
    5: "DEWI_LESTARI",  # an underscore in the data: LIKE would treat it as a wildcard
    6: "AGUSTINUS  TAMBUN",
}


@pytest.fixture
def server() -> OutreachServer:
    """It holds the test recording's files; op.a logs in on its devices with PIN."""
    return OutreachServer(blobs=biometric_hashes(),
                          device_profile=profile_document(DK, people=[("op.a", "A", PIN)]))


@pytest.fixture
def client(home: Path, server: OutreachServer) -> Iterator[FieldClient]:
    with outreach_client(Settings(allow_test_kdf=True, home=home), server) as made:
        server.assign([target(i, name) for i, name in NAMES.items()])
        made.sync()
        yield made


def niks(found: list[dict[str, Any]]) -> set[str]:
    return {row["nik"][-4:] for row in found}


def nik(index: int) -> str:
    return f"610904570890{index:04d}"


def test_fold_removes_case_accents_and_extra_spaces() -> None:
    assert fold("  José   DA Costa ") == "jose da costa"
    assert fold("ŠTEFAN DVOŘÁK") == "stefan dvorak"


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        ("maria", {"0001", "0002"}),
        ("MAGDALENA", {"0002"}),
        ("jose", {"0003"}),  # no accent typed, accent stored
        ("JOSÉ", {"0003"}),
        ("josé da", {"0003"}),
        ("agustinus tambun", {"0006"}),  # the double space of the data does not matter
        ("goret", {"0001"}),
        ("0004", {"0004"}),  # part of a NIK
        ("6109 0457 0890 0005", {"0005"}),  # a NIK typed with spaces
        ("61.09.04", {"0001", "0002", "0003", "0004", "0005", "0006"}),
        ("tidak ada", set()),
    ],
)
def test_search_by_part_of_name_or_nik(
    client: FieldClient, search: str, expected: set[str]
) -> None:
    assert niks(client.targets(search, data_key=DK)) == expected


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        ("%", set()),
        ("maria%", set()),
        ("m_ria", set()),
        ("_", {"0005"}),  # only the name that really holds an underscore
        ("dewi_", {"0005"}),
        ("'", {"0004"}),
        ("o'neil", {"0004"}),
        ("' OR '1'='1", set()),
        ("x'; DROP TABLE outreach_target; --", set()),
        ("--", set()),
        (";", set()),
        ("\\", set()),
    ],
)
def test_sql_and_wildcard_characters_are_plain_text(
    client: FieldClient, search: str, expected: set[str]
) -> None:
    assert niks(client.targets(search, data_key=DK)) == expected
    assert len(client.targets(data_key=DK)) == len(NAMES)  # nothing dropped, nothing changed


@pytest.mark.parametrize("search", ["", "   ", "x" * 101])
def test_an_empty_or_overlong_search_is_a_clear_error(client: FieldClient, search: str) -> None:
    with pytest.raises(UsageInvalid, match="pencarian"):
        client.targets(search, data_key=DK)


def test_an_unknown_visit_is_a_clear_error(client: FieldClient) -> None:
    with pytest.raises(UsageInvalid, match="tidak ada di perangkat ini"):
        client.targets(visit_id="bukan-kunjungan", data_key=DK)


def test_done_follows_the_records_on_the_device(client: FieldClient) -> None:
    files = biometric_files(client.home.parent / "scans")
    recorded = client.enroll(person(1), "op.a", files=files, data_key=DK)
    client.enroll(person(2), "op.a", files=files, data_key=DK)
    done = {row["nik"][-4:] for row in client.targets(data_key=DK) if row["done"]}
    assert done == {"0001", "0002"}
    assert client.visits(data_key=DK)[0]["done"] == 2
    set_state(client, recorded.id, "rejected")  # refused by the server: not done
    assert {row["nik"][-4:] for row in client.targets(data_key=DK) if row["done"]} == {"0002"}
    set_state(client, recorded.id, "superseded")  # replaced by a fix: the fix counts, not it
    assert client.visits(data_key=DK)[0]["done"] == 1


def test_prefill_gives_the_card_data_and_the_visit_desa(client: FieldClient) -> None:
    card = client.target_prefill(nik(3), data_key=DK)
    assert card == {
        "nik": nik(3),
        "nama": "JOSÉ DA COSTA",
        "tanggal_lahir": "1990-08-17",
        "jenis_kelamin": "PEREMPUAN",
        "alamat": "DUSUN TEMBAGA",
        "rt": "001",
        "rw": "002",
        "desa_kode": DESA,
    }
    assert client.target_prefill(f" {nik(3)[:4]}.{nik(3)[4:]} ", data_key=DK)["nik"] == nik(3)


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("6109045708909999", "tidak ada di daftar sasaran"),
        ("12345", "harus 16 angka"),
        ("6109O45708900001", "harus 16 angka"),
        ("", "harus 16 angka"),
        ("6109045708900001' OR 1=1 --", "harus 16 angka"),
    ],
)
def test_prefill_of_an_unknown_or_bad_nik_is_a_clear_error(
    client: FieldClient, typed: str, message: str
) -> None:
    with pytest.raises(UsageInvalid, match=message):
        client.target_prefill(typed, data_key=DK)


def test_status_lists_the_visits(client: FieldClient) -> None:
    [visit] = client.status()["visits"]  # no PIN: the list stays closed, its size is known
    assert (visit["desa_kode"], visit["targets"], visit["done"]) == (DESA, 6, None)
    [opened_visit] = client.visits(data_key=DK)
    assert (opened_visit["targets"], opened_visit["done"]) == (6, 0)


def test_a_target_list_rests_under_the_data_key(client: FieldClient) -> None:
    [row] = client.outbox.rows("SELECT sealed FROM outreach_visit")
    content = datakey.decrypt_json(DK, bytes(row["sealed"]))
    assert {t["nik"] for t in content["targets"]} == {nik(i) for i in NAMES}
    with pytest.raises(datakey.DataKeyError):
        datakey.decrypt_json(datakey.new_data_key(), bytes(row["sealed"]))
    other_key = datakey.new_data_key()
    assert client.targets(data_key=other_key) == []  # another key opens nothing
    assert client.visits(data_key=other_key)[0]["targets"] == 0
    home = client.settings.outbox_path.parent
    stored = b"".join(p.read_bytes() for p in home.glob(f"{client.settings.outbox_path.name}*"))
    client.outbox.checkpoint()
    stored += client.settings.outbox_path.read_bytes()
    for index, name in NAMES.items():
        assert nik(index).encode() not in stored and nik(index)[-6:].encode() not in stored
        assert name.encode() not in stored and name.split()[0].encode() not in stored


# -- the CLI ---------------------------------------------------------------------------------


@pytest.fixture
def run(client: FieldClient, server: OutreachServer, monkeypatch: pytest.MonkeyPatch) -> Any:
    """``jemput-field ARGS`` over the client's home, with its clock and the fake server; op.a
    is the stored operator and types the PIN on standard input (``--pin-stdin``)."""
    settings = client.settings
    client.set_default_operator("op.a")
    client.close()
    monkeypatch.setattr(sys, "stdin", io.StringIO(f"{PIN}\n" * 10))
    monkeypatch.setattr(cli, "FieldClient", lambda *_: outreach_client(settings, server))

    def invoke(*args: str) -> int:
        return cli.main(["--home", str(settings.home), *args])

    return invoke


def test_cli_targets_lists_with_the_visit_header(
    run: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run("targets", "--pin-stdin") == 0
    shown = capsys.readouterr().out
    assert "Kunjungan TEMBAGA, Kec. NANGA MAHAP (61.09.04.2006), 2026-11-27, tim TIM-1" in shown
    assert "0 dari 6 sasaran sudah direkam" in shown
    assert f"{nik(3)}  JOSÉ DA COSTA" in shown and "1990-08-17  belum" in shown
    assert "6 sasaran." in shown


def test_cli_targets_search_and_json(run: Any, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("targets", "--search", "jose", "--pin-stdin") == 0
    shown = capsys.readouterr().out
    assert "JOSÉ DA COSTA" in shown and "MARIA" not in shown
    assert "1 sasaran cocok dengan 'jose'." in shown
    assert run("targets", "--search", "%", "--json", "--pin-stdin") == 0
    data = json.loads(capsys.readouterr().out)
    assert data["targets"] == [] and len(data["visits"]) == 1


def test_cli_targets_bad_search_exits_1(run: Any, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("targets", "--search", "  ", "--pin-stdin") == 1
    assert "Teks pencarian kosong" in capsys.readouterr().err


def test_cli_enroll_target_prefills_and_options_override(
    run: Any, client: FieldClient, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    files = biometric_files(tmp_path / "scans")
    options = [arg for role, path in files.items() for arg in ("--file", f"{role}={path}")]
    rest = [
        "--tempat-lahir",
        "SEKADAU",
        "--agama",
        "KATHOLIK",
        "--status-perkawinan",
        "KAWIN",
        "--pekerjaan",
        "PETANI/PEKEBUN",
        "--kewarganegaraan",
        "WNI",
        "--golongan-darah",
        "O",
    ]
    code = run("enroll", "--target", nik(1), *rest, "--rt", "007", "--operator", "op.a",
               "--pin-stdin", *options)
    assert code == 0, capsys.readouterr().err
    assert "tersimpan aman" in capsys.readouterr().out
    assert run("targets", "--search", nik(1), "--json", "--pin-stdin") == 0
    [row] = json.loads(capsys.readouterr().out)["targets"]
    assert row["done"] is True
    with FieldClient(settings=client.settings) as again:
        [saved] = again.records()
        card = opened(again, saved["id"])["payload"]
    assert (card["nama"], card["desa_kode"], card["alamat"]) == (
        "MARIA GORETTI",
        DESA,
        "DUSUN TEMBAGA",
    )
    assert card["rt"] == "007"  # the option won over the target list


def test_cli_enroll_unknown_target_saves_nothing(
    run: Any, client: FieldClient, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run("enroll", "--target", "6109045708909999", "--operator", "op.a",
               "--pin-stdin") == 1
    assert "tidak ada di daftar sasaran" in capsys.readouterr().err
    with FieldClient(settings=client.settings) as again:
        assert again.records() == []


def test_cli_status_shows_visit_progress(run: Any, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("status") == 0  # no PIN: the visit and its size, not who is done
    shown = capsys.readouterr().out
    assert "tim TIM-1: 6 sasaran" in shown and "sudah direkam" not in shown
    assert run("targets", "--pin-stdin") == 0
    assert "0 dari 6 sasaran sudah direkam" in capsys.readouterr().out


def test_cli_targets_without_visits(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "kosong"
    prepare_device(load_settings(empty, environ={"JEMPUT_TEST_KDF": "1"}))
    monkeypatch.setenv("JEMPUT_TEST_KDF", "1")
    monkeypatch.setattr(sys, "stdin", io.StringIO(f"{PIN}\n"))
    code = cli.main(["--home", str(empty), "targets", "--operator", OPERATOR, "--pin-stdin"])
    assert code == 0
    assert "Belum ada daftar sasaran" in capsys.readouterr().out


def test_cli_sync_tells_about_target_lists(
    run: Any, server: OutreachServer, capsys: pytest.CaptureFixture[str]
) -> None:
    first = next(iter(server.lists))
    server.assign([target(21), target(22)])
    refused = server.assign([target(23)])
    server.refuse[refused] = (403, "not_assigned")
    server.close(first)
    assert run("sync") == 0
    shown = capsys.readouterr().out
    assert "Daftar sasaran diterima: 1 kunjungan, 2 penduduk" in shown
    assert f"kunjungan {refused} tidak diberikan server (HTTP 403, not_assigned)" in shown
    assert "Daftar sasaran 1 kunjungan yang selesai atau ditutup dihapus" in shown


def test_a_busy_outbox_does_not_stop_the_client_opening(
    client: FieldClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def busy(*_: Any) -> int:
        raise OutboxBusy("sibuk")

    monkeypatch.setattr(targets, "purge_expired", busy)
    with FieldClient(settings=client.settings) as again:
        assert len(again.visits(data_key=DK)) == 1
