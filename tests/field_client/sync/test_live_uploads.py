"""File uploads against the REAL server (tus at /api/v1/uploads, served on loopback).

Each fault test checks the clear error and that nothing was lost: the record is still in the
outbox, its file on disk, and what the server holds is a prefix of the file, never garbage.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from field_client.capture.record import SavedRecord
from field_client.cli import main as cli
from field_client.client import FieldClient
from field_client.config import Settings
from field_client.errors import DeviceRevoked, NetworkUnavailable
from field_client.sync.transport import Transport
from field_client.sync.uploads import Uploader
from shared.sealing import SEAL_OVERHEAD, open_sealed
from shared.vocab import EXCEPTABLE_ROLES, MAX_ATTACHMENT_BYTES
from tests.support.field import DK, local, person, sha_of, states
from tests.support.live_server import LiveServer

CHUNK = 64 * 1024
SIZE = 3 * CHUNK + 1000  # a photo's plaintext bytes
SEALED = SIZE + SEAL_OVERHEAD  # what goes, sealed to the office key: four chunks
EXCUSED = {role: "other" for role in EXCEPTABLE_ROLES}


class Killed(BaseException):
    """The laptop's battery died."""


class AnswerLost(Transport):
    """The real transport, except that the answer to chunk number ``lose_at`` (sent by PATCH)
    never arrives. A first chunk sent with the creation (creation-with-upload) counts."""

    lose_at = 2

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.patches = 0

    def create_upload(self, *args: Any, **kwargs: Any) -> tuple[str, int]:
        url, offset = super().create_upload(*args, **kwargs)
        if kwargs.get("data") and offset:  # the first chunk went with the creation
            self.patches += 1
        return url, offset

    def upload_chunk(self, url: str, offset: int, data: bytes) -> int:
        new_offset = super().upload_chunk(url, offset, data)  # the server did store it
        self.patches += 1
        if self.patches == self.lose_at:
            raise NetworkUnavailable("answer lost (test)")
        return new_offset


def settings(home: Path) -> Settings:
    return Settings(allow_test_kdf=True, home=home, batch_size=5, read_timeout=10, chunk_size=CHUNK)


@pytest.fixture
def registered(home: Path, live_server: LiveServer) -> Iterator[FieldClient]:
    with FieldClient(settings=settings(home)) as client:
        client.register(live_server.url, live_server.registration_code("TIM-1"), "laptop-1")
        yield client


def reopen(client: FieldClient, transport: type[Transport] = Transport) -> FieldClient:
    """The same home in a new client (a restarted process), over ``transport``."""
    client.close()
    return FieldClient(
        settings=client.settings,
        transport_factory=lambda url, made, token: transport(url, made, token),
    )


def two_chunks_then_cut(client: FieldClient) -> FieldClient:
    """Sync until the answer to the second chunk is lost; return the restarted client."""
    with reopen(client, AnswerLost) as flaky, pytest.raises(NetworkUnavailable):
        flaky.sync()
    return reopen(client)


def record(
    client: FieldClient, index: int, size: int = SIZE, seed: int | None = None
) -> SavedRecord:
    photo = client.home.parent / "scans" / f"{index}.jpg"
    photo.parent.mkdir(parents=True, exist_ok=True)
    photo.write_bytes(random.Random(index if seed is None else seed).randbytes(size))
    return client.enroll(person(index), "op.a", files={"photo": photo}, exceptions=EXCUSED,
                         data_key=DK)


def outbox_upload(client: FieldClient, saved: SavedRecord) -> dict[str, Any]:
    [row] = client.outbox.rows("SELECT * FROM upload WHERE sha256 = ?", (sha_of(client, saved),))
    return dict(row)


def server_uploads(live: LiveServer, sha256: str) -> list[dict[str, Any]]:
    """The server's uploads of one file, oldest first."""
    from server.core.extensions import db
    from server.core.models import Upload

    with live.app.app_context():
        found = db.session.execute(
            select(Upload).where(Upload.sha256 == sha256).order_by(Upload.created_at)
        ).scalars()
        return [{"id": u.id, "state": u.state, "offset": u.offset, "device": u.device_id,
                 "received": u.received_bytes} for u in found]  # fmt: skip


def server_blob(live: LiveServer, sha256: str) -> bytes | None:
    from server.core.blobstore import blob_store

    with live.app.app_context():
        store = blob_store()
        if not store.has_blob(sha256):
            return None
        with store.open_blob(sha256) as stream:
            return stream.read()


#: Where a record stands once all its files are on the server: the checks run right after.
PAST_COMPLETE = {"complete", "verified", "needs_review"}


def server_state(live: LiveServer, record_id: str) -> str:
    from server.core.extensions import db
    from server.core.models import Enrollment

    with live.app.app_context():
        return str(db.session.get(Enrollment, record_id).state)  # type: ignore[union-attr]


def expire(live: LiveServer, upload_id: str) -> None:
    from server.core.extensions import db
    from server.core.models import Upload

    with live.app.app_context():
        past = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
        db.session.execute(update(Upload).where(Upload.id == upload_id).values(expires_at=past))
        db.session.commit()


def assert_kept(live: LiveServer, client: FieldClient, saved: SavedRecord) -> None:
    """The record is still there, its file's sealed copy as sealed and opening to the photo."""
    [row] = [r for r in client.records() if r["id"] == saved.id]
    assert row["state"] == "sent" and not row["purged"]
    noted = client.outbox.scalar("SELECT sealed_sha256 FROM file WHERE record_id = ?", (saved.id,))
    assert hashlib.sha256(local(client, saved).read_bytes()).hexdigest() == noted
    plain = opened_file(live, client, sha_of(client, saved))
    assert hashlib.sha256(plain).hexdigest() == sha_of(client, saved)


def opened_file(live: LiveServer, client: FieldClient, sha256: str) -> bytes:
    """A kept file as the office opens it (with the live server's key ring)."""
    from server.core import keyring

    path = client.outbox.scalar("SELECT path FROM file WHERE sha256 = ? LIMIT 1", (sha256,))
    kid = client.outbox.scalar("SELECT key_id FROM file WHERE sha256 = ? LIMIT 1", (sha256,))
    with live.app.app_context():
        secret = keyring.current().secret_for(str(kid))
    assert secret is not None
    return open_sealed(secret, (client.settings.home / str(path)).read_bytes())


def test_files_go_up_in_chunks_and_the_records_complete(
    registered: FieldClient, live_server: LiveServer, capsys: pytest.CaptureFixture[str]
) -> None:
    big, small = record(registered, 1), record(registered, 2, size=5000)
    home = str(registered.home)
    registered.close()
    assert cli.main(["--home", home, "sync"]) == 0  # the CLI, as the operator runs it
    out = capsys.readouterr().out
    assert "Berkas biometrik di server: 2" in out
    with FieldClient(settings=settings(Path(home))) as client:
        assert states(client.settings.outbox_path) == {"complete": 2}
        for saved in (big, small):
            sha = sha_of(client, saved)
            # The server keeps the file it opened: the photo itself, not the sealed bytes.
            assert server_blob(live_server, sha) == opened_file(live_server, client, sha)
            [upload] = server_uploads(live_server, sha)
            assert upload["state"] == "finished" and upload["received"] == saved_size(client, sha)
            assert outbox_upload(client, saved)["state"] == "done"
            assert server_state(live_server, saved.id) in PAST_COMPLETE
        assert client.status()["files"] == {"waiting": 0, "failed": 0, "bytes_left": 0}


def saved_size(client: FieldClient, sha256: str) -> int:
    return int(client.outbox.scalar("SELECT size FROM upload WHERE sha256 = ?", (sha256,)))


def test_a_lost_answer_resumes_from_the_servers_offset_not_from_zero(
    registered: FieldClient, live_server: LiveServer
) -> None:
    saved = record(registered, 1)
    sha = sha_of(registered, saved)
    with two_chunks_then_cut(registered) as client:
        [upload] = server_uploads(live_server, sha)
        assert outbox_upload(client, saved)["offset"] == CHUNK  # one behind the server
        assert upload["offset"] == 2 * CHUNK
        assert_kept(live_server, client, saved)
        report = client.sync()
        assert report.done and report.bytes_uploaded == SEALED - 2 * CHUNK
        assert states(client.settings.outbox_path) == {"complete": 1}
        assert server_blob(live_server, sha) == opened_file(live_server, client, sha)
    [upload] = server_uploads(live_server, sha)
    assert upload["received"] == SEALED  # not one byte twice


def test_killed_before_noting_the_upload_url_the_server_answers_the_same_upload(
    registered: FieldClient, live_server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    saved = record(registered, 1)
    sha = sha_of(registered, saved)

    def die(*_: object) -> None:
        raise Killed

    monkeypatch.setattr(Uploader, "_save", die)
    with pytest.raises(Killed):
        registered.sync()
    monkeypatch.undo()
    with reopen(registered) as client:
        assert outbox_upload(client, saved)["url"] is None
        assert client.sync().done
    [upload] = server_uploads(live_server, sha)  # one upload, not two
    assert upload["state"] == "finished" and upload["received"] == SEALED


def test_a_file_changed_on_disk_is_reported_and_not_sent(
    registered: FieldClient, live_server: LiveServer
) -> None:
    saved = record(registered, 1)
    original = local(registered, saved).read_bytes()
    local(registered, saved).write_bytes(original[:-1] + b"\x00")
    report = registered.sync()
    [failed] = report.files_failed
    assert failed["code"] == "file_changed" and "TIDAK diunggah" in failed["message"]
    sha = sha_of(registered, saved)
    assert server_blob(live_server, sha) is None
    assert all(u["received"] == 0 for u in server_uploads(live_server, sha))
    assert server_state(live_server, saved.id) == "received"
    assert registered.records()[0]["state"] == "sent" and local(registered, saved).exists()
    local(registered, saved).write_bytes(original)  # restored from a backup
    assert registered.sync().done
    assert server_state(live_server, saved.id) in PAST_COMPLETE


def test_another_devices_upload_url_is_not_found_and_a_new_upload_is_made(
    registered: FieldClient, live_server: LiveServer, tmp_path: Path
) -> None:
    mine = record(registered, 1, seed=5)
    with two_chunks_then_cut(registered) as client:
        foreign_url = outbox_upload(client, mine)["url"]
    with FieldClient(settings=settings(tmp_path / "laptop-2")) as other:
        other.register(live_server.url, live_server.registration_code("TIM-2"), "laptop-2")
        theirs = record(other, 2, seed=5)  # the same bytes, by chance or by copy
        other.sync()  # push; its own upload finishes and is noted
        sha = sha_of(other, theirs)
        with other.outbox.atomic():  # waiting again, with a URL that belongs to laptop-1
            other.outbox.execute(
                "UPDATE upload SET url = ?, state = 'needed' WHERE sha256 = ?", (foreign_url, sha)
            )
            other.outbox.execute("UPDATE record SET state = 'sent'")
        report = other.sync()
        assert report.done and report.bytes_uploaded == 0  # HEAD 404, POST: already there
        assert outbox_upload(other, theirs)["url"] != foreign_url
    uploads = server_uploads(live_server, sha)
    first = [u for u in uploads if u["id"] == foreign_url.rsplit("/", 1)[-1]]
    assert first and first[0]["offset"] == 2 * CHUNK  # laptop-1's upload untouched


def test_an_expired_upload_is_created_anew(
    registered: FieldClient, live_server: LiveServer
) -> None:
    saved = record(registered, 1)
    with two_chunks_then_cut(registered) as client:
        old_url = outbox_upload(client, saved)["url"]
        expire(live_server, old_url.rsplit("/", 1)[-1])  # a day without network
        report = client.sync()
        assert report.done and report.bytes_uploaded == SEALED  # from zero: the bytes are gone
        row = outbox_upload(client, saved)
        assert row["state"] == "done" and row["url"] != old_url
        sha = sha_of(client, saved)
        assert server_blob(live_server, sha) == opened_file(live_server, client, sha)


def test_a_revoked_device_stops_mid_upload_and_loses_nothing(
    registered: FieldClient, live_server: LiveServer
) -> None:
    saved = record(registered, 1)
    device_id = registered.status()["device_id"]
    with two_chunks_then_cut(registered) as client:
        live_server.revoke(device_id)
        with pytest.raises(DeviceRevoked) as caught:
            client.sync()
        assert "daftar ulang" in caught.value.message
        assert_kept(live_server, client, saved)
        assert outbox_upload(client, saved)["offset"] == CHUNK


def test_a_file_over_the_servers_limit_is_refused_before_any_byte(
    registered: FieldClient, live_server: LiveServer
) -> None:
    saved = record(registered, 1)
    with registered.outbox.atomic():  # as a file the server's limit no longer allows would be
        registered.outbox.execute("UPDATE file SET size = ?", (MAX_ATTACHMENT_BYTES + 1,))
    report = registered.sync()
    [failed] = report.files_failed
    assert failed["code"] == "file_too_large" and "terlalu besar" in failed["message"]
    assert server_uploads(live_server, sha_of(registered, saved)) == []
    assert registered.records()[0]["state"] == "sent" and local(registered, saved).exists()
