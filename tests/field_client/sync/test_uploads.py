"""File uploads against the in-memory server and its fake tus app: resuming, faults, bad files.

Every fault test checks the clear error AND that nothing was lost: the record is still in the
outbox, its file still on disk, and the offsets saved are ones the server acknowledged.
"""

from __future__ import annotations

import hashlib
import itertools
import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from field_client.capture.record import SavedRecord
from field_client.cli import main as cli
from field_client.client import FieldClient
from field_client.config import Settings
from field_client.errors import DeviceRevoked, NetworkUnavailable, ServerStorageFull
from field_client.sync.uploads import Uploader
from shared.sealing import SEAL_OVERHEAD
from shared.vocab import EXCEPTABLE_ROLES
from tests.support.fakes import FakeServer, FakeUpload, registered_client
from tests.support.field import DK, local, opened, opened_file, person, sha_of, states

CHUNK = 4096
SIZE = 5 * CHUNK + 100  # a photo's plaintext bytes
SEALED = SIZE + SEAL_OVERHEAD  # what goes (sealed to the office key): six chunks, the last short
ONE_CHUNK = CHUNK - SEAL_OVERHEAD  # a photo whose sealed copy is exactly one chunk


class Killed(BaseException):
    """The laptop's battery died (nothing after this point ran)."""


@pytest.fixture
def server() -> FakeServer:
    return FakeServer()


def open_client(home: Path, server: FakeServer) -> FieldClient:
    """A registered client over ``home``: a new one is a restarted process."""
    return registered_client(
        Settings(allow_test_kdf=True, home=home, batch_size=10, chunk_size=CHUNK), server)


@pytest.fixture
def cli_server(server: FakeServer, monkeypatch: pytest.MonkeyPatch) -> FakeServer:
    """The same in-memory server behind every FieldClient the CLI makes."""
    monkeypatch.setattr("field_client.client._default_transport", server.transport)
    return server


@pytest.fixture
def client(home: Path, server: FakeServer) -> Iterator[FieldClient]:
    with open_client(home, server) as made:
        yield made


def record(client: FieldClient, index: int, size: int = SIZE) -> SavedRecord:
    """A record whose only file is its own photo (every other biometric excused)."""
    photo = client.home.parent / "scans" / f"{index}.jpg"
    photo.parent.mkdir(parents=True, exist_ok=True)
    photo.write_bytes(random.Random(index).randbytes(size))
    exceptions = {role: "other" for role in EXCEPTABLE_ROLES}
    return client.enroll(person(index), "op.a", files={"photo": photo}, exceptions=exceptions,
                         data_key=DK)


def upload_row(client: FieldClient, saved: SavedRecord) -> dict[str, Any]:
    row = client.outbox.rows("SELECT * FROM upload WHERE sha256 = ?", (sha_of(client, saved),))
    return dict(row[0]) if row else {}


def server_upload(server: FakeServer, sha256: str) -> FakeUpload:
    [upload] = [u for u in server.tus.uploads.values() if u.sha256 == sha256 and u.state == "open"]
    return upload


def offsets(server: FakeServer) -> list[int]:
    return [offset for _, offset, _ in server.tus.patches]


def assert_kept(client: FieldClient, saved: SavedRecord, state: str = "sent") -> None:
    """Nothing lost: the record in its state with its sealed copy, the file whole on disk
    (its sealed copy as sealed, and it opens, for the office, to the photo)."""
    [row] = [r for r in client.records() if r["id"] == saved.id]
    assert row["state"] == state and not row["purged"]
    kept = client.outbox.scalar("SELECT sealed FROM record WHERE id = ?", (saved.id,))
    assert kept is not None
    noted = client.outbox.scalar(
        "SELECT sealed_sha256 FROM file WHERE record_id = ?", (saved.id,))
    assert hashlib.sha256(local(client, saved).read_bytes()).hexdigest() == noted
    plain = opened_file(client, sha_of(client, saved))
    assert hashlib.sha256(plain).hexdigest() == sha_of(client, saved)


# -- the normal way -----------------------------------------------------------------------------


def test_sync_sends_missing_files_in_chunks_and_the_records_complete(
    client: FieldClient, server: FakeServer
) -> None:
    first, second = record(client, 1), record(client, 2, size=ONE_CHUNK)
    seen: list[tuple[int, int]] = []
    report = client.sync(upload_progress=lambda done, total: seen.append((done, total)))
    assert (report.files_uploaded, report.bytes_uploaded) == (2, SEALED + CHUNK)
    assert (report.files_waiting, report.files_failed, report.done) == (0, [], True)
    assert states(client.settings.outbox_path) == {"complete": 2}  # told by the pull feed
    assert server.blobs == {sha_of(client, first), sha_of(client, second)}
    assert all(length <= CHUNK for _, _, length in server.tus.patches)
    assert len(server.tus.patches) == 6 + 1
    assert seen[0] == (0, SEALED + CHUNK) and seen[-1] == (SEALED + CHUNK, SEALED + CHUNK)
    assert all(a[0] <= b[0] for a, b in itertools.pairwise(seen))
    assert upload_row(client, first)["state"] == "done"
    assert client.status()["files"] == {"waiting": 0, "failed": 0, "bytes_left": 0}
    assert client.sync().files_uploaded == 0  # nothing twice


def test_a_file_the_server_got_meanwhile_is_not_sent(
    client: FieldClient, server: FakeServer
) -> None:
    saved = record(client, 1)
    server.tus.fail_next = [("POST", 503, "unavailable")]
    with pytest.raises(NetworkUnavailable):
        client.sync()
    server.blobs.add(sha_of(client, saved))  # another laptop sent the same bytes
    report = client.sync()
    assert (report.files_uploaded, report.bytes_uploaded, report.done) == (1, 0, True)
    assert server.tus.patches == []
    assert upload_row(client, saved)["state"] == "done"


def test_files_shared_by_records_are_sent_once(client: FieldClient, server: FakeServer) -> None:
    photo = client.home.parent / "same.jpg"
    photo.write_bytes(random.Random(7).randbytes(SIZE))
    excused = {role: "other" for role in EXCEPTABLE_ROLES}
    for index in (1, 2):
        client.enroll(person(index), "op.a", files={"photo": photo}, exceptions=excused,
                      data_key=DK)
    report = client.sync()
    assert (report.files_uploaded, report.bytes_uploaded) == (1, SEALED)
    assert states(client.settings.outbox_path) == {"complete": 2}


def test_a_duplicate_answer_also_asks_for_the_files(
    client: FieldClient, server: FakeServer
) -> None:
    saved = record(client, 1)
    server.lose_answers = True  # stored, but the answer never arrives
    with pytest.raises(NetworkUnavailable):
        client.sync()
    assert upload_row(client, saved) == {}  # no answer, so nothing known to be missing
    server.lose_answers = False
    report = client.sync()
    assert (report.duplicate, report.files_uploaded) == (1, 1)
    assert states(client.settings.outbox_path) == {"complete": 1}


def test_a_sent_record_nobody_asked_files_for_still_gets_them_up(
    client: FieldClient, server: FakeServer
) -> None:
    saved = record(client, 1)
    server.stored[saved.id] = {"seq": saved.seq, "attachments": [{"sha256": sha_of(client, saved)}]}
    with client.outbox.atomic():  # as the pull feed ("received") does, without a push answer
        client.outbox.execute("UPDATE record SET state = 'sent' WHERE id = ?", (saved.id,))
    report = client.sync()
    assert (report.pushed, report.files_uploaded) == (0, 1)
    assert states(client.settings.outbox_path) == {"complete": 1}


# -- resuming -----------------------------------------------------------------------------------


def test_a_cut_link_stops_the_run_and_the_next_one_resumes_from_the_server(
    home: Path, client: FieldClient, server: FakeServer
) -> None:
    saved = record(client, 1)
    server.tus.cut_when = lambda n: n == 2  # the third chunk dies on the way
    with pytest.raises(NetworkUnavailable) as caught:
        client.sync()
    assert "posisi terakhir" in caught.value.message and caught.value.exit_code == 75
    report = caught.value.report
    assert report is not None and (report.bytes_uploaded, report.files_waiting) == (2 * CHUNK, 1)
    row = upload_row(client, saved)
    assert (row["state"], row["offset"]) == ("needed", 2 * CHUNK) and row["url"]
    assert_kept(client, saved)
    client.close()
    server.tus.cut_when = None
    with open_client(home, server) as restarted:  # a new process
        report = restarted.sync()
        assert report.done and states(restarted.settings.outbox_path) == {"complete": 1}
    assert offsets(server) == [0, CHUNK, 2 * CHUNK, *range(2 * CHUNK, SEALED, CHUNK)]
    assert server.tus.received - SEALED == CHUNK  # exactly the chunk that was cut, again


def test_killed_after_a_chunk_landed_but_before_it_was_noted(
    home: Path, client: FieldClient, server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    saved = record(client, 1)
    real_save, calls = Uploader._save, []

    def save_then_die(self: Uploader, sha256: str, url: str | None, offset: int) -> None:
        calls.append(offset)
        if offset == 3 * CHUNK:
            raise Killed
        real_save(self, sha256, url, offset)

    monkeypatch.setattr(Uploader, "_save", save_then_die)
    with pytest.raises(Killed):
        client.sync()
    monkeypatch.undo()
    assert upload_row(client, saved)["offset"] == 2 * CHUNK  # the outbox is one chunk behind
    assert server_upload(server, sha_of(client, saved)).offset == 3 * CHUNK
    client.close()
    with open_client(home, server) as restarted:
        assert restarted.sync().done
    assert server.tus.received == SEALED  # HEAD said 3 chunks: not one byte sent twice
    assert offsets(server)[3] == 3 * CHUNK


def test_killed_between_creating_the_upload_and_noting_its_url(
    home: Path, client: FieldClient, server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    saved = record(client, 1)

    def die(*_: object) -> None:
        raise Killed

    monkeypatch.setattr(Uploader, "_save", die)
    with pytest.raises(Killed):
        client.sync()
    monkeypatch.undo()
    assert upload_row(client, saved)["url"] is None and server.tus.creations == 1
    client.close()
    with open_client(home, server) as restarted:
        assert restarted.sync().done
    assert server.tus.creations == 2 and len(server.tus.uploads) == 1  # the same upload again
    assert server.tus.received == SEALED


def test_an_offset_mismatch_asks_the_server_and_continues_from_there(
    client: FieldClient, server: FakeServer
) -> None:
    saved = record(client, 1)

    def lose_a_chunk(upload: FakeUpload) -> None:
        if len(server.tus.patches) == 3:  # the server lost its last chunk (restored backup)
            del upload.data[CHUNK:]

    server.tus.before_patch = lose_a_chunk
    report = client.sync()
    assert report.done and server.blobs == {sha_of(client, saved)}  # whole and verified
    assert offsets(server) == [0, CHUNK, 2 * CHUNK, *range(CHUNK, SEALED, CHUNK)]


def test_a_damaged_chunk_is_sent_again(client: FieldClient, server: FakeServer) -> None:
    saved = record(client, 1)
    server.tus.fail_next = [("PATCH", 460, "checksum_mismatch")] * 2  # twice, then it goes
    report = client.sync()
    assert report.done and server.blobs == {sha_of(client, saved)}
    assert offsets(server) == list(range(0, SEALED, CHUNK))  # the first chunk got through at last


def test_a_link_that_keeps_damaging_chunks_stops_the_run(
    client: FieldClient, server: FakeServer
) -> None:
    saved = record(client, 1)
    server.tus.fail_next = [("PATCH", 460, "checksum_mismatch")] * 3
    with pytest.raises(NetworkUnavailable) as caught:
        client.sync()
    assert "merusak data" in caught.value.message
    assert upload_row(client, saved)["offset"] == 0
    assert_kept(client, saved)
    assert client.sync().done  # the link is fine again


def test_an_expired_upload_is_created_anew(
    home: Path, client: FieldClient, server: FakeServer
) -> None:
    saved = record(client, 1)
    server.tus.cut_when = lambda n: n == 2
    with pytest.raises(NetworkUnavailable):
        client.sync()
    old_url = upload_row(client, saved)["url"]
    server_upload(server, sha_of(client, saved)).state = "expired"  # a day went by
    server.tus.cut_when = None
    report = client.sync()
    assert report.done and server.blobs == {sha_of(client, saved)}
    row = upload_row(client, saved)
    assert row["state"] == "done" and row["url"] != old_url
    assert offsets(server) == [0, CHUNK, 2 * CHUNK, *range(0, SEALED, CHUNK)]  # from zero again


def test_an_upload_that_vanishes_mid_way_is_created_anew_in_the_same_run(
    client: FieldClient, server: FakeServer
) -> None:
    saved = record(client, 1)

    def expire_once(upload: FakeUpload) -> None:
        if len(server.tus.patches) == 3:
            upload.state = "expired"

    server.tus.before_patch = expire_once
    report = client.sync()
    assert report.done and server.blobs == {sha_of(client, saved)}
    assert len(server.tus.uploads) == 2


def test_the_office_disk_full_stops_the_run_and_keeps_the_offset(
    client: FieldClient, cli_server: FakeServer, capsys: pytest.CaptureFixture[str]
) -> None:
    server = cli_server
    saved = record(client, 1)
    server.tus.fail_next = [("PATCH", 507, "storage_full")]
    with pytest.raises(ServerStorageFull) as caught:
        client.sync()
    assert "server kantor penuh" in caught.value.message
    assert_kept(client, saved)
    server.tus.fail_next = [("PATCH", 507, "storage_full")]  # still full at the next sync
    home = str(client.home)
    client.close()
    assert cli.main(["--home", home, "sync"]) == 75
    err = capsys.readouterr().err
    assert "server kantor penuh" in err and "1 berkas biometrik menunggu unggah" in err


@pytest.mark.parametrize("status", [500, 503])
def test_a_broken_server_means_try_later(
    client: FieldClient, server: FakeServer, status: int
) -> None:
    saved = record(client, 1)
    server.tus.fail_next = [("PATCH", status, "busy")]
    with pytest.raises(NetworkUnavailable):
        client.sync()
    assert_kept(client, saved)
    assert client.sync().done


def test_a_busy_upload_is_waited_for_and_continued_where_the_other_writer_left_it(
    client: FieldClient, server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("field_client.sync.uploads.BUSY_PAUSE", 0)
    saved = record(client, 1)
    data = local(client, saved).read_bytes()

    def twin_is_writing(upload: FakeUpload) -> bool:
        if upload.offset != 2 * CHUNK:
            return False
        upload.data.extend(data[2 * CHUNK : 3 * CHUNK])  # a copy of this laptop sends chunk 2
        return True

    server.tus.busy_when = twin_is_writing
    report = client.sync()
    assert report.done and server.blobs == {sha_of(client, saved)}
    assert offsets(server) == list(range(0, SEALED, CHUNK))  # after the 423: HEAD, then chunk 3
    assert report.bytes_uploaded == SEALED - CHUNK


def test_an_upload_busy_for_long_means_try_later(
    client: FieldClient, server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("field_client.sync.uploads.BUSY_PAUSE", 0)
    saved = record(client, 1)
    server.tus.fail_next = [("PATCH", 423, "upload_busy")] * 3
    with pytest.raises(NetworkUnavailable) as caught:
        client.sync()
    assert "HTTP 423" in caught.value.message and caught.value.exit_code == 75
    assert_kept(client, saved)
    assert client.sync().done


def test_a_revoked_device_stops_uploads_with_the_clear_error(
    client: FieldClient, server: FakeServer
) -> None:
    saved = record(client, 1)
    server.tus.fail_next = [("POST", 401, "unauthorized")]
    with pytest.raises(DeviceRevoked) as caught:
        client.sync()
    assert "daftar ulang" in caught.value.message
    assert_kept(client, saved)
    assert upload_row(client, saved)["state"] == "needed"


# -- files that cannot go -----------------------------------------------------------------------


def test_a_file_changed_on_disk_is_reported_and_not_sent(
    client: FieldClient, server: FakeServer, capsys: pytest.CaptureFixture[str]
) -> None:
    changed, fine = record(client, 1), record(client, 2)
    original = local(client, changed).read_bytes()
    local(client, changed).write_bytes(b"X" + original[1:])  # a bad sector, an editor, ...
    report = client.sync()
    [failed] = report.files_failed
    assert (failed["seq"], failed["role"], failed["code"]) == (changed.seq, "photo", "file_changed")
    assert "berubah atau rusak" in failed["message"] and "TIDAK diunggah" in failed["message"]
    assert server.tus.sent_for(sha_of(client, changed)) == 0  # not one byte of it
    assert (report.files_uploaded, report.done) == (1, False)
    assert states(client.settings.outbox_path) == {"sent": 1, "complete": 1}
    assert local(client, changed).exists()  # nothing deleted
    info = client.status()
    assert info["files"]["failed"] == 1 and info["failed_files"][0]["code"] == "file_changed"
    [row] = client.records("sent")
    assert row["files_failed"] == 1 and row["file_problems"][0]["role"] == "photo"
    # The original comes back (a backup): the next sync sends it.
    local(client, changed).write_bytes(original)
    assert client.sync().done and states(client.settings.outbox_path) == {"complete": 2}
    assert fine.id in server.completed


def test_a_deleted_file_is_reported_and_the_cli_asks_for_a_person(
    client: FieldClient, cli_server: FakeServer, capsys: pytest.CaptureFixture[str]
) -> None:
    saved = record(client, 1)
    local(client, saved).unlink()
    home = str(client.home)
    client.close()
    assert cli.main(["--home", home, "sync"]) == 1
    out, err = capsys.readouterr()
    assert "tidak ada lagi di perangkat" in out and "perlu diperiksa" in err
    assert cli.main(["--home", home, "status"]) == 0
    out = capsys.readouterr().out
    assert "0 menunggu unggah, 1 gagal" in out and "tidak ada lagi di perangkat" in out
    assert cli.main(["--home", home, "records"]) == 0
    out = capsys.readouterr().out
    assert "berkas 0/1 terunggah, 1 gagal" in out and "berkas photo gagal" in out
    with FieldClient(home) as again:
        [row] = again.records(data_key=DK)
        assert row["state"] == "sent" and row["nama"]  # the record is all there
        assert opened(again, row["id"])["payload"]["nik"] == person(1)["nik"]


def test_a_file_larger_than_the_server_takes_is_refused_before_any_byte(
    client: FieldClient, server: FakeServer
) -> None:
    saved = record(client, 1)
    server.tus.max_size = SIZE - 1
    report = client.sync()
    [failed] = report.files_failed
    assert failed["code"] == "file_too_large" and "terlalu besar" in failed["message"]
    assert server.tus.received == 0
    assert_kept(client, saved)


def test_an_upload_address_on_another_host_gets_nothing(
    client: FieldClient, server: FakeServer
) -> None:
    saved = record(client, 1)
    server.tus.location_base = "http://evil.example"
    report = client.sync()
    [failed] = report.files_failed
    assert failed["code"] == "upload_location_refused" and "host lain" in failed["message"]
    assert server.tus.patches == []
    assert_kept(client, saved)
    assert upload_row(client, saved)["url"] is None


def test_a_relative_upload_address_is_fine(client: FieldClient, server: FakeServer) -> None:
    record(client, 1)
    server.tus.relative_location = True
    assert client.sync().done


def _damage_sealed(upload: FakeUpload) -> None:
    upload.data[0] ^= 0xFF  # the seal no longer opens: 422 upload_unreadable


def _declare_other_hash(upload: FakeUpload) -> None:
    upload.sha256 = "0" * 64  # opens, but to other bytes than declared: 460 blob_hash_mismatch


@pytest.mark.parametrize(
    ("meddle", "code"),
    [(_damage_sealed, "upload_unreadable"), (_declare_other_hash, "blob_hash_mismatch")],
)
def test_a_file_the_server_hashes_differently_is_sent_again_then_reported(
    client: FieldClient, server: FakeServer, meddle: Callable[[FakeUpload], None], code: str
) -> None:
    saved = record(client, 1)

    def corrupt_on_the_server(upload: FakeUpload) -> None:
        if upload.offset == 5 * CHUNK:  # before the last chunk lands
            meddle(upload)

    server.tus.before_patch = corrupt_on_the_server
    report = client.sync()
    assert (report.files_failed, report.files_waiting, report.done) == ([], 1, False)
    row = upload_row(client, saved)
    assert (row["state"], row["url"], row["error_code"]) == ("needed", None, code)
    report = client.sync()  # the second time in a row: a person must look
    [failed] = report.files_failed
    assert failed["code"] == code and "dua kali" in failed["message"]
    assert_kept(client, saved)
    server.tus.before_patch = None
    assert client.sync().done  # every sync looks again


def test_a_refusal_of_one_file_does_not_stop_the_others(
    client: FieldClient, server: FakeServer
) -> None:
    first, second = record(client, 1), record(client, 2)
    server.tus.fail_next = [("POST", 400, "bad_upload_request")]
    report = client.sync()
    [failed] = report.files_failed
    assert failed["seq"] == first.seq and "bad_upload_request" in failed["message"]
    assert sha_of(client, second) in server.blobs
    assert_kept(client, first)
