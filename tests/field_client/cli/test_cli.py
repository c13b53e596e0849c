"""``jemput-field`` through ``main([...])``: output, plain error messages, exit codes."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.wrappers import Request, Response

from field_client.cli import main as cli
from field_client.client import FieldClient
from field_client.store.outbox import open_outbox
from shared.vocab import BIOMETRIC_ROLES
from tests.support.fakes import FakeServer
from tests.support.field import biometric_files, biometric_hashes, person, states, write_file
from tests.support.payloads import payload
from tests.support.wsgi_thread import serving

OPTIONS = [
    "--nik", "6109045708900001", "--nama", "maria goretti", "--tempat-lahir", "sekadau",
    "--tanggal-lahir", "1990-08-17", "--jenis-kelamin", "PEREMPUAN", "--golongan-darah", "O",
    "--alamat", "dusun tembaga", "--rt", "1", "--rw", "2", "--desa-kode", "61.09.04.2006",
    "--agama", "KATHOLIK", "--status-perkawinan", "KAWIN", "--pekerjaan", "PETANI/PEKEBUN",
    "--kewarganegaraan", "WNI",
]  # fmt: skip


class Run:
    """``main`` over one home folder, returning (exit code, stdout, stderr)."""

    def __init__(self, home: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.home = home
        self.capsys = capsys

    def __call__(self, *args: str) -> tuple[int, str, str]:
        code = cli.main(["--home", str(self.home), *args])
        out, err = self.capsys.readouterr()
        assert "Traceback" not in err
        return code, out, err

    def status(self) -> dict[str, Any]:
        code, out, _ = self("status", "--json")
        assert code == 0
        return dict(json.loads(out))


@pytest.fixture
def run(home: Path, capsys: pytest.CaptureFixture[str]) -> Run:
    return Run(home, capsys)


def file_options(folder: Path, skip: tuple[str, ...] = ()) -> list[str]:
    """``--file ROLE=PATH`` for a complete recording written into ``folder`` (but ``skip``)."""
    files = biometric_files(folder, skip=skip)
    return [arg for role, path in files.items() for arg in ("--file", f"{role}={path}")]


def test_enroll_from_options(run: Run, tmp_path: Path) -> None:
    photo = write_file(tmp_path / "photo.jpg")
    scans = file_options(tmp_path / "scans", skip=("photo", "finger_l_little"))
    code, out, _ = run(
        "enroll", *OPTIONS, "--operator", "op.a", "--file", f"photo={photo}", *scans,
        "--exception", "finger_l_little=amputated",
    )  # fmt: skip
    assert code == 0
    assert "tersimpan aman di antrean" in out and "seq 1" in out
    info = run.status()
    assert info["counts"]["ready"] == 1 and info["total"] == 1 and not info["registered"]
    assert "token" not in json.dumps(info)
    _, out, _ = run("records", "--json")
    assert json.loads(out)[0]["files"] == len(BIOMETRIC_ROLES) - 1


def test_enroll_without_a_finger_names_it_and_the_options_and_saves_nothing(
    run: Run, tmp_path: Path
) -> None:
    scans = file_options(tmp_path / "scans", skip=("finger_r_middle", "iris_right"))
    code, out, err = run("enroll", *OPTIONS, "--operator", "op.a", *scans)
    assert code == 1 and out == ""
    assert "tidak ada yang disimpan" in err
    assert "  - biometrics: 2 biometrik belum punya berkas maupun pengecualian." in err
    assert (
        "  - biometrics.finger_r_middle: Jari tengah kanan belum direkam: --file "
        "finger_r_middle=PATH, atau bila tidak dapat direkam --exception finger_r_middle=ALASAN."
    ) in err
    assert "--file iris_right=PATH" in err and "--exception iris_right=ALASAN" in err
    assert "amputated (diamputasi)" in err
    assert run.status()["total"] == 0
    assert not (run.home / "files").exists() or list((run.home / "files").iterdir()) == []
    scans = file_options(tmp_path / "scans", skip=("finger_r_middle", "iris_right"))
    code, out, _ = run(
        "enroll", *OPTIONS, "--operator", "op.a", *scans,
        "--exception", "finger_r_middle=amputated", "--exception", "iris_right=injured",
    )  # fmt: skip
    assert code == 0 and "seq 1" in out


def test_enroll_help_names_the_roles_and_the_reasons(run: Run) -> None:
    code, out, _ = run("enroll", "--help")
    flat = " ".join(out.split())
    assert code == 0
    assert "--file PERAN=PATH" in flat and "--exception PERAN=ALASAN" in flat
    assert "finger_l_little" in flat and "amputated, injured" in flat


def test_enroll_from_json_with_option_override_and_warning(run: Run, tmp_path: Path) -> None:
    source = tmp_path / "card.json"
    source.write_text(json.dumps(payload(jenis_kelamin="PEREMPUAN")))
    code, out, _ = run(
        "enroll", "--json", str(source), "--jenis-kelamin", "LAKI-LAKI", "--operator", "op.a",
        *file_options(tmp_path / "scans"),
    )  # fmt: skip
    assert code == 0
    assert "Peringatan: NIK menunjukkan PEREMPUAN" in out


def test_enroll_uses_the_operator_from_the_environment(
    run: Run, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("JEMPUT_OPERATOR", "op.env")
    assert run("enroll", *OPTIONS, *file_options(tmp_path / "scans"))[0] == 0
    _, out, _ = run("records", "--json")
    assert json.loads(out)[0]["operator"] == "op.env"


def test_invalid_enroll_lists_each_field_and_saves_nothing(run: Run) -> None:
    bad = [*OPTIONS]
    bad[bad.index("6109045708900001")] = "610904570890001"
    bad[bad.index("1990-08-17")] = "1990-02-31"
    code, out, err = run("enroll", *bad, "--operator", "op.a", "--exception", "iris_left=lost")
    assert code == 1
    assert "tidak ada yang disimpan" in err
    assert "nik: NIK harus 16 angka, bukan 15." in err
    assert "tanggal_lahir: Tanggal tidak sah" in err
    assert "exception.iris_left: Alasan 'lost'" in err
    assert out == ""
    assert run.status()["total"] == 0


def test_enroll_without_operator_is_refused(run: Run) -> None:
    code, _, err = run("enroll", *OPTIONS)
    assert code == 1 and "operator" in err
    assert run.status()["total"] == 0


@pytest.mark.parametrize(
    "args",
    [
        ["enroll", "--file", "photo"],
        ["enroll", "--exception", "=x"],
        ["frobnicate"],
        [],
        ["records", "--state", "lost"],
        ["register", "--server", "http://x"],
    ],
)
def test_usage_errors_exit_2(run: Run, args: list[str]) -> None:
    assert run(*args)[0] == 2


def test_help_exits_0(run: Run) -> None:
    code, out, _ = run("--help")
    assert code == 0 and "register" in out and "watch" in out


def test_enroll_json_file_problems_are_plain(run: Run, tmp_path: Path) -> None:
    broken = tmp_path / "card.json"
    broken.write_text("{nope")
    code, _, err = run("enroll", "--json", str(broken), "--operator", "op.a")
    assert code == 1 and "bukan JSON" in err
    code, _, err = run("enroll", "--json", str(tmp_path / "none.json"), "--operator", "op.a")
    assert code == 1 and "tidak dapat dibaca" in err
    code, _, err = run("enroll", *OPTIONS, "--operator", "a", "--file", "photo=a.jpg",
                       "--file", "photo=b.jpg")  # fmt: skip
    assert code == 1 and "dua kali" in err


def test_import_reports_bad_lines_and_exit_code(run: Run, tmp_path: Path) -> None:
    files = {role: str(path) for role, path in biometric_files(tmp_path / "scans").items()}
    good = tmp_path / "good.jsonl"
    good.write_text(
        "\n".join(json.dumps({"payload": person(i), "files": files}) for i in range(1, 4)) + "\n"
    )
    code, out, _ = run("import", str(good), "--operator", "op.a")
    assert code == 0 and "3 rekaman tersimpan aman di antrean; 0 baris ditolak" in out
    mixed = tmp_path / "mixed.jsonl"
    no_signature = {role: path for role, path in files.items() if role != "signature"}
    mixed.write_text(
        json.dumps({"operator": "op.a", "payload": person(5), "files": files}) + "\n{oops\n"
        + json.dumps({"operator": "op.a", "payload": person(6), "files": no_signature}) + "\n"
    )  # fmt: skip
    code, out, err = run("import", str(mixed))
    assert code == 1
    assert "1 rekaman tersimpan" in out and "baris 2: bukan JSON" in err
    assert "baris 3: Data rekaman belum benar" in err
    assert 'biometrics.signature: Tanda tangan belum direkam: "files": {"signature": "PATH"}' in err
    assert run.status()["counts"]["ready"] == 4


def test_records_listing_and_filter(run: Run, home: Path, tmp_path: Path) -> None:
    files = biometric_files(tmp_path / "scans")
    with FieldClient(home) as client:
        first = client.enroll(person(1), "op.a", files=files)
        client.enroll(person(2), "op.a", files=files)
        with client.outbox.atomic():
            client.outbox.execute(
                "UPDATE record SET state = 'rejected', error_message = 'Kode desa tidak dikenal.' "
                "WHERE id = ?",
                (first.id,),
            )
    code, out, _ = run("records")
    assert code == 0 and "2 rekaman." in out and "Kode desa tidak dikenal." in out
    code, out, _ = run("records", "--state", "rejected", "--json")
    assert [r["id"] for r in json.loads(out)] == [first.id]


def test_status_text(run: Run, tmp_path: Path) -> None:
    scans = file_options(tmp_path / "scans")
    assert run("enroll", *OPTIONS, "--operator", "op.a", *scans)[0] == 0
    code, out, _ = run("status")
    assert code == 0
    assert "belum terdaftar" in out and "siap kirim 1" in out


def test_sync_without_registration_is_an_error(run: Run, tmp_path: Path) -> None:
    scans = file_options(tmp_path / "scans")
    assert run("enroll", *OPTIONS, "--operator", "op.a", *scans)[0] == 0
    code, _, err = run("sync")
    assert code == 1 and "belum terdaftar" in err


def test_sync_with_network_down_exits_75_and_keeps_everything(
    run: Run, home: Path, tmp_path: Path
) -> None:
    files = biometric_files(tmp_path / "scans")
    with FieldClient(home) as client:
        for index in range(1, 4):
            client.enroll(person(index), "op.a", files=files)
        with client.outbox.atomic():
            client.outbox.set_meta("server_url", "http://127.0.0.1:9")  # nothing listens there
            client.outbox.set_meta("token", "t")
    code, _, err = run("sync")
    assert code == 75
    assert "tidak dapat dihubungi" in err and "3 rekaman masih menunggu" in err
    assert states(home / "outbox.sqlite3") == {"ready": 3}
    assert run.status()["last_sync_error"]


def test_corrupt_outbox_is_reported_and_left_alone(run: Run, home: Path) -> None:
    home.mkdir()
    garbage = os.urandom(2048)
    (home / "outbox.sqlite3").write_bytes(garbage)
    code, _, err = run("status")
    assert code == 1
    assert "dibiarkan apa adanya" in err and str(home / "outbox.sqlite3") in err
    assert (home / "outbox.sqlite3").read_bytes() == garbage


def test_register_refuses_a_bad_url_and_a_second_registration(run: Run, home: Path) -> None:
    code, _, err = run("register", "--server", "jemput.local", "--code", "ABCD")
    assert code == 1 and "tidak sah" in err
    with open_outbox(home / "outbox.sqlite3") as outbox, outbox.atomic():
        outbox.set_meta("server_url", "http://127.0.0.1:9")
        outbox.set_meta("token", "t")
    code, _, err = run("register", "--server", "http://127.0.0.1:9", "--code", "ABCD")
    assert code == 1 and "--force" in err


def test_watch_prints_cycles_and_stops(
    run: Run, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = FieldClient.watch

    def two_cycles(self: FieldClient, **kwargs: Any) -> Any:
        return original(self, max_cycles=2, sleep=lambda _: None, **kwargs)

    monkeypatch.setattr(FieldClient, "watch", two_cycles)
    with FieldClient(home) as client, client.outbox.atomic():
        client.outbox.set_meta("server_url", "http://127.0.0.1:9")
        client.outbox.set_meta("token", "t")
    code, out, err = run("watch")
    assert code == 0
    assert "Berhenti setelah 2 putaran" in out
    assert err.count("Coba lagi dalam") == 2


def test_purge_prints_a_summary(run: Run) -> None:
    code, out, _ = run("purge")
    assert code == 0 and "Dibersihkan: 0 rekaman" in out


@pytest.fixture
def portal() -> Iterator[str]:
    """A hotspot login page that answers every request with 403 text/html."""

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        Request(environ).get_data()
        page = "<html><body>Wi-Fi Desa: silakan login</body></html>"
        return Response(page, status=403, mimetype="text/html")(environ, start_response)

    with serving(app) as url:
        yield url


def registered_home(home: Path, server_url: str, count: int) -> list[str]:
    files = biometric_files(home.parent / "scans")
    with FieldClient(home) as client:
        ids = [client.enroll(person(i), "op.a", files=files).id for i in range(1, count + 1)]
        with client.outbox.atomic():
            client.outbox.set_meta("server_url", server_url)
            client.outbox.set_meta("token", "t")
    return ids


def test_sync_behind_a_hotspot_portal_exits_75_and_keeps_everything(
    run: Run, home: Path, portal: str
) -> None:
    registered_home(home, portal, 3)
    code, _, err = run("sync")
    assert code == 75
    assert "hotspot/portal" in err and "HTTP 403" in err and "3 rekaman masih menunggu" in err
    assert states(home / "outbox.sqlite3") == {"ready": 3}


def test_watch_behind_a_hotspot_portal_keeps_trying(
    run: Run, home: Path, portal: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = FieldClient.watch

    def three_cycles(self: FieldClient, **kwargs: Any) -> Any:
        return original(self, max_cycles=3, sleep=lambda _: None, **kwargs)

    monkeypatch.setattr(FieldClient, "watch", three_cycles)
    registered_home(home, portal, 2)
    code, out, err = run("watch")
    assert code == 0 and "Berhenti setelah 3 putaran" in out
    assert err.count("hotspot/portal") == 3 and err.count("Coba lagi dalam") == 3
    assert states(home / "outbox.sqlite3") == {"ready": 2}


@pytest.fixture
def fake_server(monkeypatch: pytest.MonkeyPatch) -> FakeServer:
    """The in-memory server behind every FieldClient the CLI makes."""
    server = FakeServer(blobs=biometric_hashes())  # it holds the test recording's files
    monkeypatch.setattr("field_client.client._default_transport", server.transport)
    return server


def test_sync_with_a_record_too_large_alone_exits_75_and_keeps_it(
    run: Run, home: Path, fake_server: FakeServer, tmp_path: Path
) -> None:
    small = registered_home(home, "http://fake.invalid", 2)
    files = biometric_files(tmp_path / "scans")
    long_card = person(9, nama="MARIA GORETTI " + "X" * 40, alamat="DUSUN TEMBAGA " + "Y" * 80)
    with FieldClient(home) as client:
        big = client.enroll(long_card, "op.a", files=files)
        fake_server.max_bytes = len(client.outbox.scalar(
            "SELECT body FROM record WHERE id = ?", (big.id,))) + 10  # fmt: skip
    code, out, err = run("sync")
    assert code == 75
    assert "0 ditolak" in out and "Tertahan di antrean" in out
    assert f"seq {big.seq}" in err and "413" in err and "proxy" in err
    assert "tetap di antrean" in err and "1 rekaman masih menunggu" in err
    assert states(home / "outbox.sqlite3") == {"complete": 2, "ready": 1}
    assert set(fake_server.stored) == set(small)
    code, out, _ = run("records", "--state", "ready")
    assert big.id in out and "413" in out
    assert "tetap di antrean" in (run.status()["last_sync_error"] or "")


def test_sync_with_a_record_damaged_on_the_way_exits_75_and_keeps_it(
    run: Run, home: Path, fake_server: FakeServer
) -> None:
    ids = registered_home(home, "http://fake.invalid", 3)
    fake_server.damage_ids = {ids[0]}
    code, out, err = run("sync")
    assert code == 75
    assert "0 ditolak" in out and "hash_mismatch" in err and "dikirim ulang" in err
    assert states(home / "outbox.sqlite3") == {"complete": 2, "ready": 1}
    fake_server.damage_ids = set()
    code, _, _ = run("sync")
    assert code == 0
    assert states(home / "outbox.sqlite3") == {"complete": 3}
    assert set(fake_server.stored) == set(ids)
