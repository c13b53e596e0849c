"""``jemput-field`` through ``main([...])``: output, plain error messages, exit codes."""

from __future__ import annotations

import io
import json
import os
import random
import string
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.wrappers import Request, Response

from field_client.cli import main as cli
from field_client.client import FieldClient
from field_client.config import load_settings
from field_client.store import profile, records
from field_client.store.outbox import open_outbox
from field_client.sync.engine import request_body
from shared.vocab import BIOMETRIC_ROLES
from tests.support.fakes import FakeServer
from tests.support.field import (
    biometric_files,
    biometric_hashes,
    opened,
    person,
    states,
    write_file,
)
from tests.support.field_ui import OTHER_PIN, PIN, profile_document
from tests.support.keys import DATA_KEY as DK
from tests.support.payloads import payload
from tests.support.wsgi_thread import serving

OPTIONS = [
    "--nik", "6109045708900001", "--nama", "maria goretti", "--tempat-lahir", "sekadau",
    "--tanggal-lahir", "1990-08-17", "--jenis-kelamin", "PEREMPUAN", "--golongan-darah", "O",
    "--alamat", "dusun tembaga", "--rt", "1", "--rw", "2", "--desa-kode", "61.09.04.2006",
    "--agama", "KATHOLIK", "--status-perkawinan", "KAWIN", "--pekerjaan", "PETANI/PEKEBUN",
    "--kewarganegaraan", "WNI",
]  # fmt: skip


#: The operators of the tests' laptop (username, nama, PIN).
PEOPLE = (("op.a", "Operator A", PIN), ("op.env", "Operator Env", OTHER_PIN))


class Run:
    """``main`` over one home folder, returning (exit code, stdout, stderr).

    ``pin``: the operator's PIN, given as a script gives it (``--pin-stdin`` and standard input);
    ``stdin``: other standard input (with ``--pin-stdin`` among the arguments)."""

    def __init__(self, home: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.home = home
        self.capsys = capsys

    def __call__(
        self, *args: str, pin: str | None = None, stdin: str | None = None
    ) -> tuple[int, str, str]:
        argv = ["--home", str(self.home), *args]
        if pin is not None:
            argv.append("--pin-stdin")
            stdin = pin + "\n"
        saved = sys.stdin
        if stdin is not None:
            sys.stdin = io.StringIO(stdin)
        try:
            code = cli.main(argv)
        finally:
            sys.stdin = saved
        out, err = self.capsys.readouterr()
        assert "Traceback" not in err
        for secret in (PIN, OTHER_PIN):
            assert secret not in out and secret not in err
        return code, out, err

    def status(self) -> dict[str, Any]:
        code, out, _ = self("status", "--json")
        assert code == 0
        return dict(json.loads(out))


def prepare_laptop(home: Path) -> None:
    """A laptop as its last contact with the office left it (not registered): the office key,
    and the operators of :data:`PEOPLE` whose PINs unwrap the tests' data key."""
    with open_outbox(load_settings(home).outbox_path) as outbox:
        profile.store(outbox, profile_document(DK, people=PEOPLE))


@pytest.fixture
def run(home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Run:
    monkeypatch.setenv("JEMPUT_TEST_KDF", "1")  # the tests' wraps use the low test cost
    prepare_laptop(home)
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
        "--exception", "finger_l_little=amputated", pin=PIN,
    )  # fmt: skip
    assert code == 0
    assert "tersimpan aman di antrean" in out and "seq 1" in out
    info = run.status()
    assert info["counts"]["ready"] == 1 and info["total"] == 1 and not info["registered"]
    assert "token" not in json.dumps(info)
    _, out, _ = run("records", "--json")
    (row,) = json.loads(out)
    assert row["files"] == len(BIOMETRIC_ROLES) - 1
    with FieldClient(run.home) as client:  # sealed: what the office opens
        record = opened(client, row["id"])
    assert (record["payload"]["nik"], record["payload"]["nama"]) == (
        "6109045708900001", "MARIA GORETTI")
    assert record["operator"] == "op.a"
    assert record["exceptions"] == [{"role": "finger_l_little", "reason": "amputated"}]


def test_enroll_without_a_finger_names_it_and_the_options_and_saves_nothing(
    run: Run, tmp_path: Path
) -> None:
    scans = file_options(tmp_path / "scans", skip=("finger_r_middle", "iris_right"))
    code, out, err = run("enroll", *OPTIONS, "--operator", "op.a", *scans, pin=PIN)
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
        "--exception", "finger_r_middle=amputated", "--exception", "iris_right=injured", pin=PIN,
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
        *file_options(tmp_path / "scans"), pin=PIN,
    )  # fmt: skip
    assert code == 0
    assert "Peringatan: NIK menunjukkan PEREMPUAN" in out


def test_enroll_uses_the_operator_from_the_environment(
    run: Run, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("JEMPUT_OPERATOR", "op.env")
    assert run("enroll", *OPTIONS, *file_options(tmp_path / "scans"), pin=OTHER_PIN)[0] == 0
    _, out, _ = run("records", "--json")
    assert json.loads(out)[0]["operator"] is None  # kept under the data key: a PIN shows it
    _, out, _ = run("records", "--json", "--details", pin=OTHER_PIN)
    assert json.loads(out)[0]["operator"] == "op.env"


def test_invalid_enroll_lists_each_field_and_saves_nothing(run: Run) -> None:
    bad = [*OPTIONS]
    bad[bad.index("6109045708900001")] = "610904570890001"
    bad[bad.index("1990-08-17")] = "1990-02-31"
    code, out, err = run("enroll", *bad, "--operator", "op.a", "--exception", "iris_left=lost",
                         pin=PIN)
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


def _nothing_saved(run: Run) -> None:
    assert run.status()["total"] == 0
    files = run.home / "files"
    assert not files.exists() or list(files.iterdir()) == []


def test_enroll_with_a_wrong_pin_is_refused_plainly_and_saves_nothing(
    run: Run, tmp_path: Path
) -> None:
    scans = file_options(tmp_path / "scans")
    code, out, err = run("enroll", *OPTIONS, "--operator", "op.a", *scans, pin=OTHER_PIN)
    assert code == 1 and out == ""
    assert err.strip() == "Gagal: Operator atau PIN salah. Sisa percobaan: 4."
    _nothing_saved(run)
    # The PIN of one operator does not open the laptop for another.
    code, _, err = run("enroll", *OPTIONS, "--operator", "op.env", *scans, pin=PIN)
    assert code == 1 and "Operator atau PIN salah" in err
    code, _, err = run("enroll", *OPTIONS, "--operator", "op.a", *scans, pin="12345")
    assert code == 1 and "Sisa percobaan: 3." in err  # not 8 digits: wrong, counted
    _nothing_saved(run)
    assert run("enroll", *OPTIONS, "--operator", "op.a", *scans, pin=PIN)[0] == 0


@pytest.mark.parametrize("command", [
    ["enroll", *OPTIONS], ["import", "lines.jsonl"], ["fix", "1"], ["targets"],
    ["records", "--details"],
])  # fmt: skip
@pytest.mark.parametrize("stdin", ["", "\n", "   \n"])
def test_pin_stdin_without_a_pin_says_so(run: Run, command: list[str], stdin: str) -> None:
    code, out, err = run(*command, "--operator", "op.a", "--pin-stdin", stdin=stdin)
    assert code == 1 and out == ""
    assert "Tidak ada PIN di masukan standar" in err and "--pin-stdin" in err
    assert "PIN salah" not in err
    with FieldClient(run.home) as client:  # not a wrong PIN: nothing counted
        assert client.lock_state("op.a")["failures"] == 0
    _nothing_saved(run)


@pytest.mark.parametrize("given", [
    ["--pin", PIN], [f"--pin={PIN}"], ["-p", PIN], [PIN],
])  # fmt: skip
def test_a_pin_on_the_command_line_is_not_accepted(
    run: Run, tmp_path: Path, given: list[str]
) -> None:
    scans = file_options(tmp_path / "scans")
    code = cli.main(["--home", str(run.home), "enroll", *OPTIONS, "--operator", "op.a", *scans,
                     *given])  # fmt: skip
    run.capsys.readouterr()  # argparse names the unknown argument (the PIN): not checked here
    assert code == 2
    _nothing_saved(run)


def test_no_pin_from_the_environment_and_none_asked_without_a_terminal(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("JEMPUT_PIN", "JEMPUT_OPERATOR_PIN", "PIN"):
        monkeypatch.setenv(name, PIN)
    monkeypatch.setattr(sys, "stdin", io.StringIO(PIN + "\n"))  # not a terminal, no --pin-stdin
    code, out, err = run("enroll", *OPTIONS, "--operator", "op.a",
                         *file_options(tmp_path / "scans"))  # fmt: skip
    assert code == 1 and out == ""
    assert "tidak ada layar" in err and "--pin-stdin" in err
    _nothing_saved(run)


def test_the_pin_is_asked_on_the_terminal_without_echo(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from field_client.cli import args as cli_args

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    prompts: list[str] = []

    def getpass(prompt: str) -> str:
        prompts.append(prompt)
        return PIN

    monkeypatch.setattr(sys, "stdin", Terminal())
    monkeypatch.setattr(cli_args.getpass, "getpass", getpass)
    code, out, _ = run("enroll", *OPTIONS, "--operator", "op.a",
                       *file_options(tmp_path / "scans"))  # fmt: skip
    assert code == 0 and "seq 1" in out
    assert prompts == ["PIN operator op.a: "]


@pytest.mark.parametrize("command", [["sync"], ["watch"], ["status"], ["purge"], ["records"]])
def test_sync_watch_status_purge_ask_no_pin(
    run: Run, command: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_login(*_: object) -> None:
        raise AssertionError("no PIN is asked for")

    monkeypatch.setattr(FieldClient, "login", no_login)
    monkeypatch.setattr(FieldClient, "watch", lambda self, **kw: type(
        "Summary", (), {"cycles": 0})())
    code, _, err = run(*command)
    assert code in (0, 1), err  # sync: not registered
    assert "PIN" not in err


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
    code, out, _ = run("import", str(good), "--operator", "op.a", pin=PIN)
    assert code == 0 and "3 rekaman tersimpan aman di antrean; 0 baris ditolak" in out
    mixed = tmp_path / "mixed.jsonl"
    no_signature = {role: path for role, path in files.items() if role != "signature"}
    mixed.write_text(
        json.dumps({"operator": "op.a", "payload": person(5), "files": files}) + "\n{oops\n"
        + json.dumps({"operator": "op.a", "payload": person(6), "files": no_signature}) + "\n"
    )  # fmt: skip
    code, out, err = run("import", str(mixed), "--operator", "op.a", pin=PIN)
    assert code == 1
    assert "1 rekaman tersimpan" in out and "baris 2: bukan JSON" in err
    assert "baris 3: Data rekaman belum benar" in err
    assert 'biometrics.signature: Tanda tangan belum direkam: "files": {"signature": "PATH"}' in err
    assert run.status()["counts"]["ready"] == 4


def test_records_listing_and_filter(run: Run, home: Path, tmp_path: Path) -> None:
    files = biometric_files(tmp_path / "scans")
    with FieldClient(home) as client:
        first = client.enroll(person(1), "op.a", files=files, data_key=DK)
        client.enroll(person(2), "op.a", files=files, data_key=DK)
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
    assert run("enroll", *OPTIONS, "--operator", "op.a", *scans, pin=PIN)[0] == 0
    code, out, _ = run("status")
    assert code == 0
    assert "belum terdaftar" in out and "siap kirim 1" in out


def test_sync_without_registration_is_an_error(run: Run, tmp_path: Path) -> None:
    scans = file_options(tmp_path / "scans")
    assert run("enroll", *OPTIONS, "--operator", "op.a", *scans, pin=PIN)[0] == 0
    code, _, err = run("sync")
    assert code == 1 and "belum terdaftar" in err


def test_sync_with_network_down_exits_75_and_keeps_everything(
    run: Run, home: Path, tmp_path: Path
) -> None:
    files = biometric_files(tmp_path / "scans")
    with FieldClient(home) as client:
        for index in range(1, 4):
            client.enroll(person(index), "op.a", files=files, data_key=DK)
        with client.outbox.atomic():
            client.outbox.set_meta("server_url", "http://127.0.0.1:9")  # nothing listens there
            client.outbox.set_meta("token", "t")
    code, _, err = run("sync")
    assert code == 75
    assert "tidak dapat dihubungi" in err and "3 rekaman masih menunggu" in err
    assert states(home / "outbox.sqlite3") == {"ready": 3}
    assert run.status()["last_sync_error"]


def test_corrupt_outbox_is_reported_and_left_alone(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    home = tmp_path / "other-home"
    run = Run(home, capsys)
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
    assert err.count("Coba lagi paling lama dalam") == 2


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
        ids = [
            client.enroll(person(i), "op.a", files=files, data_key=DK).id
            for i in range(1, count + 1)
        ]
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
    assert err.count("hotspot/portal") == 3 and err.count("Coba lagi paling lama dalam") == 3
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
    # Sealed records are gzipped first: the long card's text must not compress away.
    letters = random.Random(9)

    def text(size: int) -> str:
        return "".join(letters.choice(string.ascii_uppercase) for _ in range(size))

    long_card = person(9, nama="MARIA " + text(54), alamat="DUSUN " + text(94))
    with FieldClient(home) as client:
        big = client.enroll(long_card, "op.a", files=files, data_key=DK)
        alone = {p.id: len(request_body([p])) for p in records.ready_batch(client.outbox, 0, 10)}
    fake_server.max_bytes = alone.pop(big.id) - 1  # the big one alone is too large
    assert max(alone.values()) <= fake_server.max_bytes  # each small one alone fits
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


def test_a_sync_that_sealed_an_old_queue_shows_the_office_key_fingerprint(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from field_client.cli.text import print_report
    from field_client.sync.report import SyncReport

    report = SyncReport()
    report.upgrade = {"records": 3, "files": 40, "drafts_left": 1,
                      "office_key_fingerprint": "3fa9-c2d1-77b0-12ee"}
    print_report(report)
    printed = capsys.readouterr().out
    assert "Antrean lama disegel: 3 rekaman dan 40 berkas" in printed
    assert "3fa9-c2d1-77b0-12ee" in printed and "cocokkan" in printed
    assert "1 draf lama" in printed
    print_report(SyncReport())  # an ordinary sync says nothing of it
    assert "disegel" not in capsys.readouterr().out
