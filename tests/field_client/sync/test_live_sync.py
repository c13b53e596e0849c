"""The field client against the REAL server app (served on loopback): register, push, pull."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from field_client.capture.record import SavedRecord
from field_client.cli import main as cli
from field_client.client import FieldClient
from field_client.config import Settings
from field_client.errors import (
    AlreadyRegistered,
    DeviceRevoked,
    NetworkUnavailable,
    RegistrationRefused,
)
from field_client.store import records
from field_client.sync.transport import Transport
from server.core import keyring
from shared.sealing import b64, open_record, seal_record
from tests.support.field import DK, biometric_files, person, states, write_file
from tests.support.live_server import LiveServer, add_operator

UNKNOWN_DESA = "61.09.04.2999"  # the right shape, but no such desa in Nanga Mahap


def enroll(client: FieldClient, index: int, **changes: str) -> SavedRecord:
    """Record person ``index`` with a complete set of files."""
    files = biometric_files(client.settings.home.parent / "scans")
    return client.enroll(person(index, **changes), "op.a", files=files, data_key=DK)


@pytest.fixture
def client(home: Path) -> Iterator[FieldClient]:
    settings = Settings(allow_test_kdf=True, home=home, batch_size=3, read_timeout=10)
    with FieldClient(settings=settings) as made:
        yield made


@pytest.fixture
def registered(client: FieldClient, live_server: LiveServer) -> FieldClient:
    client.register(live_server.url, live_server.registration_code("TIM-SEKADAU"), "laptop-1")
    return client


def test_register_stores_the_device(client: FieldClient, live_server: LiveServer) -> None:
    done = client.register(live_server.url + "/", live_server.registration_code("TIM-A"), "lp-7")
    assert (done.team, done.name, done.server_url) == ("TIM-A", "lp-7", live_server.url)
    info = client.status()
    assert info["registered"] and info["device_id"] == done.device_id and info["team"] == "TIM-A"
    assert client.outbox.get_meta("token")


def test_reused_code_is_refused_clearly(
    client: FieldClient, live_server: LiveServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = live_server.registration_code()
    client.register(live_server.url, code, "first")
    with FieldClient(tmp_path / "other-home") as other:
        with pytest.raises(RegistrationRefused) as caught:
            other.register(live_server.url, code, "second")
        assert caught.value.code == "registration_code_used"
        assert "sudah dipakai" in caught.value.message
        assert not other.status()["registered"]
    exit_code = cli.main(["--home", str(tmp_path / "third"), "register", "--server",
                          live_server.url, "--code", code])  # fmt: skip
    assert exit_code == 1
    assert "sudah dipakai" in capsys.readouterr().err


def test_unknown_code_is_refused(client: FieldClient, live_server: LiveServer) -> None:
    with pytest.raises(RegistrationRefused) as caught:
        client.register(live_server.url, "ABCD-EFGH-JKLM", "x")
    assert caught.value.code == "registration_code_invalid"


def test_sync_pushes_everything_and_the_queue_empties(
    registered: FieldClient, live_server: LiveServer, tmp_path: Path
) -> None:
    ids = [enroll(registered, i).id for i in range(1, 8)]
    with_photo = registered.enroll(
        person(20),
        "op.a",
        files={**biometric_files(tmp_path / "scans"), "photo": write_file(tmp_path / "p.jpg")},
        data_key=DK,
    )
    report = registered.sync()
    assert report.done and report.remaining == 0
    assert (report.pushed, report.accepted, report.rejected) == (8, 8, 0)
    assert report.last_seq == 8 and report.gaps == []
    assert sorted(live_server.enrollment_ids()) == sorted([*ids, with_photo.id])
    found = states(registered.settings.outbox_path)
    assert "ready" not in found
    # Every record names its files: the same sync uploaded them (tus), so every record is
    # complete on the server and the pull said so.
    assert found == {"complete": 8}
    assert (report.files_uploaded, report.files_waiting) == (15, 0)  # one scan set + a photo
    assert report.pulled >= 8 and registered.status()["pull_cursor"] > 0


def test_replay_after_a_lost_answer_is_stored_once(
    registered: FieldClient, live_server: LiveServer
) -> None:
    for index in range(1, 6):
        enroll(registered, index)
    assert registered.sync().accepted == 5
    # As if every answer had been lost: the client still believes nothing arrived.
    with registered.outbox.atomic():
        registered.outbox.execute("UPDATE record SET state = 'ready', sent_at = NULL")
    report = registered.sync()
    assert (report.duplicate, report.accepted, report.rejected, report.remaining) == (5, 0, 0, 0)
    assert len(live_server.enrollment_ids()) == 5
    assert states(registered.settings.outbox_path) == {"complete": 5}  # files already there


def test_server_rejection_is_kept_with_its_reason_and_the_rest_go(
    registered: FieldClient, live_server: LiveServer
) -> None:
    good = [enroll(registered, i).id for i in (1, 2)]
    bad = enroll(registered, 3, desa_kode=UNKNOWN_DESA)
    good += [enroll(registered, i).id for i in (4, 5, 6)]
    report = registered.sync()
    assert (report.accepted, report.rejected, report.remaining) == (5, 1, 0)
    [row] = registered.records("rejected")
    assert row["id"] == bad.id and row["error_code"] == "unknown_region"
    assert row["error_message"]
    assert sorted(live_server.enrollment_ids()) == sorted(good)


def test_network_down_keeps_every_record_ready(
    registered: FieldClient, home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for index in range(1, 5):
        enroll(registered, index)
    with registered.outbox.atomic():
        registered.outbox.set_meta("server_url", "http://127.0.0.1:9")  # a closed port
    with pytest.raises(NetworkUnavailable):
        registered.sync()
    assert cli.main(["--home", str(home), "sync"]) == 75
    err = capsys.readouterr().err
    assert "tidak dapat dihubungi" in err and "Traceback" not in err
    assert states(registered.settings.outbox_path) == {"ready": 4}


def test_revoked_device_gets_a_clear_message(
    registered: FieldClient, live_server: LiveServer, home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    enroll(registered, 1)
    live_server.revoke(str(registered.status()["device_id"]))
    with pytest.raises(DeviceRevoked) as caught:
        registered.sync()
    assert "dicabut" in caught.value.message
    assert cli.main(["--home", str(home), "sync"]) == 1
    assert "register --force" in capsys.readouterr().err
    assert states(registered.settings.outbox_path) == {"ready": 1}


def test_a_laptop_idle_past_its_token_delivers_its_queue_then_registers_again(
    registered: FieldClient, live_server: LiveServer, home: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import datetime as dt

    from sqlalchemy import update

    from server.core.extensions import db
    from server.core.models import Device

    first, second = enroll(registered, 1), enroll(registered, 2)
    with live_server.app.app_context():  # three months in a drawer
        db.session.execute(update(Device).values(
            last_seen_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=91)))
        db.session.commit()
    assert cli.main(["--home", str(home), "sync"]) == 1
    captured = capsys.readouterr()
    assert "kedaluwarsa" in captured.err and "register --force" in captured.err
    # The queue went out before the feed was refused: nothing captured is stranded.
    assert set(live_server.enrollment_ids()) == {first.id, second.id}
    third = enroll(registered, 3)
    registered.register(live_server.url, live_server.registration_code("TIM-SEKADAU"),
                        "laptop-1", force=True)
    report = registered.sync()
    assert report.done and report.accepted == 1 and report.gaps == []
    assert third.id in live_server.enrollment_ids()


def test_pull_applies_office_decisions_and_the_cursor_advances(
    registered: FieldClient, live_server: LiveServer
) -> None:
    pin = add_operator(live_server, "op.siti", "TIM-SEKADAU")
    first, second = (enroll(registered, i).id for i in (1, 2))
    registered.sync()  # also brings the operator's wrap of the device's data key
    cursor = registered.status()["pull_cursor"]
    device_id = str(registered.status()["device_id"])
    live_server.status_change(device_id, first, "needs_fix", "Foto buram, rekam ulang.")
    live_server.status_change(device_id, second, "approved", "")
    report = registered.sync()
    assert report.pulled == 2 and report.pushed == 0
    assert registered.status()["pull_cursor"] == cursor + 2
    by_id = {r["id"]: r for r in registered.records()}
    assert by_id[first]["state"] == "needs_fix"
    assert by_id[first]["reason"] is None  # not in clear: it came under the data key
    data_key = registered.login("op.siti", pin).data_key
    by_id = {r["id"]: r for r in registered.records(data_key=data_key)}
    assert by_id[first]["reason"] == "Foto buram, rekam ulang."
    assert by_id[second]["state"] == "approved"
    assert registered.sync().pulled == 0  # nothing is applied twice


def test_cli_sync_prints_a_summary(
    registered: FieldClient, home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    enroll(registered, 1)
    enroll(registered, 2, desa_kode=UNKNOWN_DESA)
    assert cli.main(["--home", str(home), "sync"]) == 0
    out = capsys.readouterr().out
    assert "Terkirim 2 rekaman: 1 diterima, 0 sudah ada di server, 1 ditolak." in out
    assert "Sisa di antrean: 0." in out
    assert cli.main(["--home", str(home), "status", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["counts"]["complete"] == 1 and info["counts"]["rejected"] == 1  # files went


def test_second_registration_needs_force_and_keeps_the_seq(
    registered: FieldClient, live_server: LiveServer
) -> None:
    enroll(registered, 1)
    registered.sync()
    old_device = registered.status()["device_id"]
    with pytest.raises(AlreadyRegistered) as caught:
        registered.register(live_server.url, live_server.registration_code(), "again")
    assert "--force" in caught.value.message
    registered.register(live_server.url, live_server.registration_code(), "again", force=True)
    info = registered.status()
    assert info["device_id"] != old_device and info["pull_cursor"] == 0
    assert enroll(registered, 2).seq == 2  # never reused, even on a new device
    report = registered.sync()
    assert report.done
    assert report.gaps == []  # seq 1 went out under the old registration: not a gap
    # The laptop named the token it held: the server knows both registrations are one laptop.
    from server.core.extensions import db
    from server.core.models import Device

    with live_server.app.app_context():
        again = db.session.get(Device, info["device_id"])
        assert again is not None and again.previous_device_id == old_device


def test_registering_again_with_unsent_records_starts_at_the_oldest(
    registered: FieldClient, live_server: LiveServer
) -> None:
    enroll(registered, 1)
    registered.sync()
    enroll(registered, 2)  # seq 2 is still in the queue when the laptop re-registers
    registered.register(live_server.url, live_server.registration_code(), "again", force=True)
    enroll(registered, 3)
    report = registered.sync()
    assert report.done and report.accepted == 2
    assert report.last_seq == 3 and report.gaps == []


def sealed_of(client: FieldClient, record_id: str) -> bytes:
    return bytes(client.outbox.scalar("SELECT sealed FROM record WHERE id = ?", (record_id,)))


def flipped(sealed: bytes) -> bytes:
    """``sealed`` with one bit changed (it no longer opens)."""
    return sealed[:60] + bytes([sealed[60] ^ 0x01]) + sealed[61:]


def tampered(live_server: LiveServer, sealed: bytes) -> bytes:
    """The record in ``sealed`` with its NIK changed, sealed again to the office key: it opens,
    but no longer matches its ``record_sha256``."""
    with live_server.app.app_context():
        ring = keyring.current()
        record = open_record(ring.secret_for(ring.sealing.kid) or b"", sealed)
        record["payload"]["nik"] = record["payload"]["nik"][:-2] + "22"
        return seal_record(ring.sealing.public, record)


class DamagingTransport(Transport):
    """The real transport, except that one record's bytes get changed on the way."""

    def __init__(
        self, url: str, settings: Settings, token: str | None, damage: tuple[bytes, bytes]
    ):
        super().__init__(url, settings, token)
        self.damage = damage

    def push(self, body: bytes) -> dict[str, object]:
        return super().push(body.replace(*self.damage))


@pytest.mark.parametrize(
    ("damage", "code"),
    [
        (lambda server, sealed: flipped(sealed), "sealed_invalid"),  # a bit flipped
        (tampered, "hash_mismatch"),  # opens, but not to the record that was saved
    ],
)
def test_damage_on_the_way_keeps_the_record_ready_until_it_arrives_whole(
    registered: FieldClient,
    live_server: LiveServer,
    damage: Callable[[LiveServer, bytes], bytes],
    code: str,
) -> None:
    ids = [enroll(registered, i).id for i in (1, 2, 3)]
    sealed = sealed_of(registered, ids[1])
    changes = (b64(sealed).encode(), b64(damage(live_server, sealed)).encode())
    with FieldClient(
        settings=registered.settings,
        transport_factory=lambda url, settings, token: DamagingTransport(
            url, settings, token, changes
        ),
    ) as damaged_link:
        report = damaged_link.sync()
    assert (report.accepted, report.rejected, report.remaining) == (2, 0, 1)
    assert [(h["id"], h["code"]) for h in report.held_back] == [(ids[1], code)]
    [row] = registered.records("ready")
    assert (row["id"], row["error_code"]) == (ids[1], code)
    assert records.sealed_intact(registered.outbox, ids[1])  # the copy here is untouched
    assert states(registered.settings.outbox_path) == {"complete": 2, "ready": 1}
    assert sorted(live_server.enrollment_ids()) == sorted([ids[0], ids[2]])
    report = registered.sync()  # the plain transport: the bytes arrive whole this time
    assert (report.accepted, report.held_back, report.done) == (1, [], True)
    assert sorted(live_server.enrollment_ids()) == sorted(ids)
    assert states(registered.settings.outbox_path) == {"complete": 3}


def test_a_sealed_copy_damaged_on_the_device_is_rejected_with_a_clear_reason(
    registered: FieldClient, live_server: LiveServer
) -> None:
    ids = [enroll(registered, i).id for i in (1, 2)]
    with registered.outbox.atomic():
        registered.outbox.execute(
            "UPDATE record SET sealed = ? WHERE id = ?",
            (flipped(sealed_of(registered, ids[0])), ids[0]),
        )
    report = registered.sync()
    assert (report.accepted, report.rejected, report.held_back) == (1, 1, [])
    [row] = registered.records("rejected")
    assert (row["id"], row["error_code"]) == (ids[0], "sealed_invalid")
    assert "perangkat ini sendiri rusak" in row["error_message"]
    assert live_server.enrollment_ids() == [ids[1]]
