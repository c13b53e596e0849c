"""A lost laptop leaks nothing (issue 16): the black-box test.

Residents are recorded through the command line and through the operator web app, with all
fourteen biometric files; then every byte under the laptop's home folder (the outbox, its WAL
and shared-memory files, the sealed files, the drafts, the session key, anything else) is read
and searched for the residents' NIK, name and address and for any 32-byte slice of any of their
biometric files (also base64-encoded). The same search runs after a sync, after a fix sent back
by the office and sent again, and after a crash in the middle of a save.

A copy of the home folder, without a PIN, opens no record and no file (the office's private key
is not on it in any form), and its target list and drafts open only with an operator's PIN.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import io
import random
import re
import shutil
import sqlite3
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from nacl.exceptions import CryptoError
from nacl.public import PrivateKey, SealedBox
from nacl.secret import SecretBox

from field_client.capture import record as capture_record
from field_client.cli import main as cli
from field_client.client import FieldClient
from field_client.config import Settings, load_settings
from field_client.errors import DraftNotFound, LoginRefused
from field_client.store import blobs, profile
from field_client.store.outbox import open_outbox
from field_client.ui import create_app
from shared import datakey
from shared.sealing import open_record, open_sealed
from shared.vocab import BIOMETRIC_ROLES
from tests.support.field import biometric_files, opened, opened_file, person
from tests.support.field_ui import (
    OPERATOR,
    OTHER_PIN,
    PIN,
    draft_id_from,
    form_data,
    login,
    profile_document,
    token,
)
from tests.support.keys import DATA_KEY as DK
from tests.support.keys import OFFICE_KEY
from tests.support.targets import OutreachServer, target

#: Windows of this many bytes of a biometric file must not be found on the laptop.
WINDOW = 32
#: The residents of the test, each recorded differently. (Values that occur nowhere else.)
CLI_PERSON = person(11, nama="SUSILAWATI RAHAYUNINGSIH", alamat="DUSUN SUNGAI AYAK KM 7")
WEB_PERSON = person(12, nama="MARGARETHA NOVIANTI", alamat="DUSUN TANJUNG BERINGIN")
DRAFT_PERSON = person(13, nama="BERNADETTA KURNIASIH", alamat="DUSUN SELANGKAI HILIR")
TARGET_PERSON = target(14, nama="FRANSISKA WULANDARI", alamat="DUSUN NANGA TAMAN ULU")
#: What the operator changes when the office sends the command line's record back.
FIXED_NAMA, FIXED_ALAMAT = "SUSILAWATI RAHAYUNINGTYAS", "DUSUN SUNGAI AYAK KM 9"
REASON = "Nama tidak sesuai KK: SUSILAWATI RAHAYUNINGTYAS."
#: A resident whose save crashes half-way.
CRASH_PERSON = person(15, nama="KATARINA PURNAMASARI", alamat="DUSUN ENTAKAI SEBERANG")


class Crash(BaseException):
    """The process dies here: no handler runs (as with a power cut or kill -9)."""


# -- the search -----------------------------------------------------------------------------


@dataclass
class Secrets:
    """What must never be on the laptop's disk in clear."""

    texts: set[str] = field(default_factory=set)
    files: list[bytes] = field(default_factory=list)  # biometric files' bytes

    def add_person(self, card: Mapping[str, Any]) -> None:
        self.texts.update((card["nik"], card["nama"], card["alamat"]))

    def add_files(self, files: Mapping[str, Path]) -> None:
        self.files.extend(path.read_bytes() for path in files.values())


class Finder:
    """Finds any ``WINDOW``-byte slice, at offsets 0, 32, 64, ... of any of ``sources``, in a
    haystack. Every occurrence of such a window covers an 8-byte chunk of the haystack at an
    offset divisible by 8, equal to the source's bytes at the window's start + 0..7: those
    chunks are indexed; only the haystack's candidates are then compared whole."""

    def __init__(self, sources: list[bytes]) -> None:
        self.windows: set[bytes] = set()
        self.chunks: set[bytes] = set()
        for source in sources:
            for start in range(0, len(source) - WINDOW + 1, WINDOW):
                self.windows.add(source[start:start + WINDOW])
                for shift in range(8):
                    self.chunks.add(source[start + shift:start + shift + 8])

    def found_in(self, haystack: bytes) -> int | None:
        """The offset of a window in ``haystack``, or None."""
        view = memoryview(haystack)
        for at in range(0, len(haystack) - 7, 8):
            if bytes(view[at:at + 8]) in self.chunks:
                low = max(0, at - 7)
                region = haystack[low:at + WINDOW]
                for offset in range(len(region) - WINDOW + 1):
                    if region[offset:offset + WINDOW] in self.windows:
                        return low + offset
        return None


def encodings(data: bytes) -> list[bytes]:
    """``data`` as it could sit in a text column or a JSON document: raw and base64 (three
    alignments, standard and URL-safe)."""
    found = [data]
    for skip in range(3):
        found.append(base64.b64encode(data[skip:]))
        found.append(base64.urlsafe_b64encode(data[skip:]))
    return found


def every_file(home: Path) -> dict[str, bytes]:
    """Every file under ``home`` with its bytes, by relative path."""
    return {str(path.relative_to(home)): path.read_bytes()
            for path in sorted(home.rglob("*")) if path.is_file()}


def assert_nothing_readable(home: Path, secrets: Secrets, when: str) -> dict[str, bytes]:
    """No secret in any file under ``home``; returns what was read."""
    disk = every_file(home)
    assert "outbox.sqlite3" in disk, f"{when}: no outbox under {home}"
    assert disk.get("outbox.sqlite3-wal"), f"{when}: no write-ahead log to search"
    assert any(name.startswith("files/") for name in disk), f"{when}: no sealed files"
    finder = Finder([form for data in secrets.files for form in encodings(data)])
    leaks = []
    for name, data in disk.items():
        folded = data.lower()
        for text in sorted(secrets.texts):
            if text.encode() in data or text.lower().encode() in folded:
                leaks.append(f"{name}: {text!r}")
            if text.isdigit() and text.encode("utf-16-le") in data:
                leaks.append(f"{name}: {text!r} (UTF-16)")
        at = finder.found_in(data)
        if at is not None:
            leaks.append(f"{name}: {WINDOW} bytes of a biometric file at offset {at}")
    assert not leaks, f"{when}: readable on the laptop's disk: {leaks}"
    return disk


# -- the laptop -----------------------------------------------------------------------------


def random_files(folder: Path, seed: int) -> dict[str, Path]:
    """All fourteen biometric files (``biometric_files``' names and sizes) holding random
    bytes: a compressed or encoded copy of patterned bytes would hide from the search."""
    files = biometric_files(folder, seed=seed)
    noise = random.Random(seed)
    for path in files.values():
        path.write_bytes(noise.randbytes(path.stat().st_size))
    return files


def card_options(card: Mapping[str, Any]) -> list[str]:
    return [arg for name, value in card.items() for arg in (f"--{name.replace('_', '-')}",
                                                            str(value))]


def run_cli(home: Path, *args: str, pin: str = PIN) -> int:
    """``jemput-field`` as a script runs it: the PIN on standard input (``--pin-stdin``)."""
    saved = sys.stdin
    sys.stdin = io.StringIO(pin + "\n")
    try:
        code = cli.main(["--home", str(home), *args, "--pin-stdin"])
    finally:
        sys.stdin = saved
    return code


def file_options(files: Mapping[str, Path]) -> list[str]:
    return [arg for role, path in files.items() for arg in ("--file", f"{role}={path}")]


def web_form(web: FlaskClient, folder: Path, card: Mapping[str, Any], files: Mapping[str, Path],
             action: str) -> dict[str, Any]:
    data = form_data(token(web, "/rekam"), folder / "form", changes=dict(card), action=action)
    for role, path in files.items():
        data[f"file_{role}"] = (BytesIO(path.read_bytes()), path.name)
    return data


@dataclass
class Laptop:
    home: Path
    settings: Settings
    server: OutreachServer
    web: FlaskClient
    secrets: Secrets
    scans: Path
    cli_record: str = ""
    web_record: str = ""
    draft: str = ""
    visit: str = ""


@pytest.fixture
def laptop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Laptop]:
    """A registered laptop (the fake office, a target list assigned to it) that saved one
    resident through the command line and one through the web app, and holds an open draft of
    a third, each with all fourteen files."""
    monkeypatch.setenv("JEMPUT_TEST_KDF", "1")  # the test wraps' low Argon2id cost
    home = tmp_path / "field-home"
    settings = load_settings(home)
    server = OutreachServer()  # holds no file yet: every one is uploaded
    monkeypatch.setattr("field_client.client._default_transport", server.transport)
    with FieldClient(settings=settings) as device:
        with device.outbox.atomic():
            device.outbox.set_meta("server_url", "http://fake.invalid")
            device.outbox.set_meta("token", "t0ken")
            device.outbox.set_meta("device_id", "dev-1")
            device.outbox.set_meta("team", "TIM-1")
        profile.store(device.outbox, profile_document(DK))
    visit = server.assign([TARGET_PERSON], start=dt.date.today(), days=3)
    # One connection stays open all along (as the web app's may): the WAL is never folded
    # back and deleted, so the search reads it with every page version written meanwhile.
    keeper = open_outbox(settings.outbox_path)
    try:
        yield from _record_residents(settings, server, visit, tmp_path / "scans")
    finally:
        keeper.close()


def _record_residents(settings: Settings, server: OutreachServer, visit: str,
                      scans: Path) -> Iterator[Laptop]:
    home = settings.home
    secrets = Secrets()
    secrets.add_person(TARGET_PERSON)

    cli_files = random_files(scans / "cli", seed=1)
    secrets.add_person(CLI_PERSON)
    secrets.add_files(cli_files)
    code = run_cli(home, "enroll", *card_options(CLI_PERSON), "--operator", OPERATOR,
                   *file_options(cli_files))
    assert code == 0

    app = create_app(settings, transport_factory=server.transport)
    app.config["TESTING"] = True
    with app.test_client() as web:
        assert login(web).status_code == 302
        web_files = random_files(scans / "web", seed=2)
        secrets.add_person(WEB_PERSON)
        secrets.add_files(web_files)
        answer = web.post("/rekam", data=web_form(web, scans, WEB_PERSON, web_files, "review"),
                          content_type="multipart/form-data")
        assert answer.status_code == 303, answer.get_data(as_text=True)[:2000]
        draft_id = draft_id_from(answer.headers["Location"])
        saved = web.post(f"/draf/{draft_id}/simpan", data={"csrf_token": token(web, "/antrean")})
        assert saved.status_code == 303
        assert "Tersimpan aman" in web.get(saved.headers["Location"]).get_data(as_text=True)

        draft_files = random_files(scans / "draft", seed=3)
        secrets.add_person(DRAFT_PERSON)
        secrets.add_files(draft_files)
        answer = web.post("/rekam", data=web_form(web, scans, DRAFT_PERSON, draft_files, "draft"),
                          content_type="multipart/form-data")
        assert answer.status_code == 303 and answer.headers["Location"].endswith("/antrean")

        with FieldClient(settings=settings) as device:
            rows = {opened(device, r["id"])["payload"]["nik"]: r["id"] for r in device.records()}
            (draft,) = device.drafts(DK)
        assert draft.form["nama"] == DRAFT_PERSON["nama"] and len(draft.files) == 14
        yield Laptop(home, settings, server, web, secrets, scans,
                     cli_record=rows[CLI_PERSON["nik"]], web_record=rows[WEB_PERSON["nik"]],
                     draft=draft.id, visit=visit)


def sync(home: Path) -> None:
    assert cli.main(["--home", str(home), "sync"]) == 0


# -- the tests ------------------------------------------------------------------------------


def test_nothing_readable_on_disk_after_save_sync_fix_and_crash(
    laptop: Laptop, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    home, secrets, server = laptop.home, laptop.secrets, laptop.server
    assert_nothing_readable(home, secrets, "after saving (command line, web app, draft)")

    # Both records and all 28 files reach the office whole; the target list reaches the laptop.
    sync(home)
    assert set(server.stored) == {laptop.cli_record, laptop.web_record}
    assert server.stored[laptop.cli_record]["payload"]["nama"] == CLI_PERSON["nama"]
    assert len(server.blobs) == 28 and server.fetched == [laptop.visit]
    with FieldClient(settings=laptop.settings) as device:
        (row,) = device.targets(data_key=DK)
        assert row["nama"] == TARGET_PERSON["nama"]
        assert {r["state"] for r in device.records()} == {"complete"}
    assert_nothing_readable(home, secrets, "after a sync")

    # The office sends the command line's record back; the operator fixes it (a new name, a
    # new address, a new photo) and it goes again. The reason names the resident too.
    server.status_change(laptop.cli_record, "needs_fix", REASON)
    sync(home)
    secrets.texts.update((FIXED_NAMA, FIXED_ALAMAT, REASON))
    photo = random_files(laptop.scans / "fix", seed=4)["photo"]
    secrets.files.append(photo.read_bytes())
    code = run_cli(home, "fix", laptop.cli_record, "--set", f"nama={FIXED_NAMA}",
                      "--set", f"alamat={FIXED_ALAMAT}", "--file", f"photo={photo}",
                      "--operator", OPERATOR)
    assert code == 0, capsys.readouterr().err
    sync(home)
    fixed = [r for r in server.stored.values() if r.get("supersedes") == laptop.cli_record]
    assert len(fixed) == 1 and fixed[0]["payload"]["nama"] == FIXED_NAMA
    assert fixed[0]["payload"]["alamat"] == FIXED_ALAMAT
    # The web app's record is sent back too, and fixed in the web app.
    server.status_change(laptop.web_record, "needs_fix", "Alamat kurang lengkap.")
    sync(home)
    web = laptop.web
    opened_draft = web.post(f"/rekaman/{laptop.web_record}/perbaiki",
                            data={"csrf_token": token(web, "/antrean")})
    assert opened_draft.status_code == 302
    fix_draft = draft_id_from(opened_draft.headers["Location"])
    new_alamat = "DUSUN TANJUNG BERINGIN HULU"
    secrets.texts.add(new_alamat)
    form = {key: str(value) for key, value in {**WEB_PERSON, "alamat": new_alamat}.items()}
    answer = web.post(f"/draf/{fix_draft}", data={**form, "action": "review",
                                                  "csrf_token": token(web, "/antrean")},
                      content_type="multipart/form-data")
    assert answer.status_code == 303, answer.get_data(as_text=True)[:3000]
    saved = web.post(f"/draf/{fix_draft}/simpan", data={"csrf_token": token(web, "/antrean")})
    assert saved.status_code == 303
    sync(home)
    fixed = [r for r in server.stored.values() if r.get("supersedes") == laptop.web_record]
    assert len(fixed) == 1 and fixed[0]["payload"]["alamat"] == new_alamat
    assert len(fixed[0]["attachments"]) == 14  # the files the office sent back, kept
    assert_nothing_readable(home, secrets, "after a fix-and-resend")

    # A crash in the middle of a save, after the files were sealed and the record written in
    # the open transaction: no handler runs (the files this attempt wrote stay behind).
    crash_files = random_files(laptop.scans / "crash", seed=5)
    secrets.add_person(CRASH_PERSON)
    secrets.add_files(crash_files)
    real_insert = capture_record.records.insert

    def insert_then_die(*args: Any, **kwargs: Any) -> None:
        real_insert(*args, **kwargs)
        raise Crash

    monkeypatch.setattr(capture_record.records, "insert", insert_then_die)
    monkeypatch.setattr(blobs, "discard_unreferenced", lambda *_: None)
    with pytest.raises(Crash):
        run_cli(home, "enroll", *card_options(CRASH_PERSON), "--operator", OPERATOR,
                *file_options(crash_files))
    assert len(list((home / "files").glob("*.sealed"))) >= 14 * 3 + 1
    assert_nothing_readable(home, secrets, "after a crash of the command line mid-save")
    # The same in the web app, saving the open draft.
    with pytest.raises(Crash):
        web.post(f"/draf/{laptop.draft}/simpan", data={"csrf_token": token(web, "/antrean")})
    assert_nothing_readable(home, secrets, "after a crash of the web app mid-save")
    with FieldClient(settings=laptop.settings) as device:  # nothing half-saved either
        assert len(device.records()) == 4 and len(device.drafts(DK)) == 1


def test_a_copied_home_folder_opens_nothing_without_a_pin(
    laptop: Laptop, tmp_path: Path
) -> None:
    sync(laptop.home)  # the target list arrives
    laptop.web.get("/antrean")  # the web app is still running, its outbox open
    copy = tmp_path / "copied-home"
    shutil.copytree(laptop.home, copy)
    disk = every_file(copy)

    # The office's private key is nowhere on it, in any encoding.
    secret = bytes(OFFICE_KEY)
    for name, data in disk.items():
        for form in (secret, secret.hex().encode(), *encodings(secret)[1:]):
            assert form not in data, f"the office's private key is in {name}"

    # So no record and no file opens with anything the copy holds: every 32-byte value in
    # its database and files (raw, base64 or hex), nor with the data key itself.
    candidates = {DK} | _key_material(copy, disk)
    with sqlite3.connect(copy / "outbox.sqlite3") as conn:
        sealed = [bytes(row[0]) for row in conn.execute("SELECT sealed FROM record")]
        columns = {row[1] for row in conn.execute("PRAGMA table_info(record)")}
    assert len(sealed) == 2 and {"nik", "nama", "body"}.isdisjoint(columns)
    files = [data for name, data in disk.items() if name.endswith(blobs.SEALED_SUFFIX)]
    assert len(files) == 28
    for box in sealed + files:
        for key in candidates:
            with pytest.raises(CryptoError):
                SealedBox(PrivateKey(key)).decrypt(box)
            with pytest.raises(CryptoError):
                SecretBox(key).decrypt(box)
    # (The office opens them: the search above is not vacuous.)
    opened_records = [open_record(bytes(OFFICE_KEY), box) for box in sealed]
    assert {r["payload"]["nik"] for r in opened_records} == {CLI_PERSON["nik"], WEB_PERSON["nik"]}
    assert all(open_sealed(bytes(OFFICE_KEY), box) for box in files)

    # The target list and the drafts are under the data key: a wrong PIN opens nothing, and
    # neither does a guessed key; the operator's PIN opens both.
    settings = load_settings(copy, environ={"JEMPUT_TEST_KDF": "1"})
    with FieldClient(settings=settings) as device:
        for username, pin in ((OPERATOR, OTHER_PIN), (OPERATOR, "00000000"),
                              ("op.maria", PIN), ("op.tidak.ada", PIN)):
            with pytest.raises(LoginRefused):
                device.login(username, pin)
        guessed = datakey.new_data_key()
        assert device.targets(data_key=guessed) == []  # the list does not open
        with pytest.raises(DraftNotFound):
            device.draft(laptop.draft, guessed)
        try:
            listed = device.drafts(guessed)
        except DraftNotFound:  # (or a listing may say so)
            listed = []
        assert listed == []
        for name, data in disk.items():
            if name.startswith("drafts/"):
                with pytest.raises(datakey.DataKeyError):
                    datakey.decrypt(guessed, data)
                assert datakey.decrypt(DK, data)  # a draft file: under the data key
        for username, pin in ((OPERATOR, PIN), ("op.maria", OTHER_PIN)):
            who = device.login(username, pin)
            (row,) = device.targets(data_key=who.data_key)
            assert (row["nik"], row["nama"]) == (TARGET_PERSON["nik"], TARGET_PERSON["nama"])
            (draft,) = device.drafts(who.data_key)
            assert draft.form["nama"] == DRAFT_PERSON["nama"]
            assert draft.files["photo"].read(who.data_key)  # the draft's files too
            # The PIN shows the queue's masked names, and still no record's data.
            names = {r["nama"] for r in device.records(data_key=who.data_key)}
            assert None not in names and not names & {CLI_PERSON["nama"], WEB_PERSON["nama"]}
            with pytest.raises(CryptoError):
                SealedBox(PrivateKey(who.data_key)).decrypt(sealed[0])
        # The copy's files and records are the laptop's: the office still opens them.
        assert opened(device, laptop.cli_record)["payload"]["nama"] == CLI_PERSON["nama"]
        sha = opened(device, laptop.cli_record)["attachments"][0]["sha256"]
        assert opened_file(device, sha)


def _key_material(home: Path, disk: Mapping[str, bytes]) -> set[bytes]:
    """Every 32-byte value the copy holds where a key could be kept: each database value and
    each small file, raw, base64 or hex, and every 32-byte slice at an offset divisible by 8 of
    the session key file and of the database's values of up to 200 bytes."""
    values: list[bytes] = [data for name, data in disk.items() if len(data) <= 4096]
    with sqlite3.connect(home / "outbox.sqlite3") as conn:
        tables = [row[0] for row in conn.execute("SELECT name FROM sqlite_master "
                                                 "WHERE type = 'table'")]
        for table in tables:
            for row in conn.execute(f'SELECT * FROM "{table}"'):
                for value in row:
                    if isinstance(value, bytes):
                        values.append(value)
                    elif isinstance(value, str):
                        values.append(value.encode())
    found: set[bytes] = set()
    for value in values:
        forms = [value]
        text = value.strip()
        if re.fullmatch(rb"[0-9a-fA-F]+", text) and len(text) % 2 == 0:
            forms.append(bytes.fromhex(text.decode()))
        if re.fullmatch(rb"[A-Za-z0-9+/_-]+=*", text):
            for decode in (base64.b64decode, base64.urlsafe_b64decode):
                with contextlib.suppress(ValueError):
                    forms.append(decode(text + b"=" * (-len(text) % 4)))
        for form in forms:
            if len(form) == 32:
                found.add(form)
            elif len(form) <= 200:
                found.update(form[at:at + 32] for at in range(0, len(form) - 31, 8))
    return found


def test_the_search_finds_what_it_looks_for(tmp_path: Path) -> None:
    """The search itself: a window at any offset, a base64 copy, a name in lower case."""
    files = random_files(tmp_path / "scans", seed=7)
    assert len(files) == len(BIOMETRIC_ROLES) == 14
    secrets = Secrets()
    secrets.add_person(CLI_PERSON)
    secrets.add_files(files)
    home = tmp_path / "home"
    (home / "files").mkdir(parents=True)
    (home / "outbox.sqlite3").write_bytes(b"\0" * 4096)
    (home / "outbox.sqlite3-wal").write_bytes(b"\0" * 4096)
    (home / "files" / "a.sealed").write_bytes(bytes(range(256)))
    assert_nothing_readable(home, secrets, "clean")
    iris = files["iris_left"].read_bytes()
    for planted in (
        b"xyz" + iris[37:37 + 2 * WINDOW] + b"!",  # any offset, long enough to hold a window
        base64.b64encode(iris[1:]),
        CLI_PERSON["nama"].lower().encode(),
        CLI_PERSON["nik"].encode("utf-16-le"),
    ):
        (home / "outbox.sqlite3-wal").write_bytes(b"\1" * 1001 + planted)
        with pytest.raises(AssertionError, match="readable on the laptop's disk"):
            assert_nothing_readable(home, secrets, "planted")
    (home / "outbox.sqlite3-wal").write_bytes(iris[33:95])  # holds no window at 0, 32, 64, ...
    assert_nothing_readable(home, secrets, "shorter than a window at a stride offset")
    finder = Finder([bytes(range(256)) * 2])
    assert finder.found_in(b"x" * 13 + bytes(range(40, 100)) + b"y") == 13 + 24
    assert finder.found_in(bytes(range(40, 71))) is None  # 31 bytes: shorter than a window
