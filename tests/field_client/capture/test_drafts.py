"""Drafts of the operator web app: saved as typed, files staged, finalized exactly once."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from field_client.capture import drafts
from field_client.client import FieldClient
from field_client.config import Settings
from field_client.errors import CaptureInvalid, DraftClosed, DraftNotFound, FixRefused
from field_client.store import blobs
from shared import datakey
from tests.support.fakes import FakeServer, registered_client
from tests.support.field import biometric_files, biometric_hashes, opened, person
from tests.support.keys import DATA_KEY as DK
from tests.support.keys import open_sealed_record
from tests.support.targets import OutreachServer, outreach_client, target

REASON = "Nama tidak sesuai KK."


@pytest.fixture
def server() -> FakeServer:
    return FakeServer(blobs=biometric_hashes())


@pytest.fixture
def client(home: Path, server: FakeServer) -> Iterator[FieldClient]:
    with registered_client(Settings(allow_test_kdf=True, home=home), server) as made:
        yield made


def uploads(client: FieldClient, skip: tuple[str, ...] = ()) -> dict[str, tuple[str, bytes]]:
    """Every biometric file (but ``skip``) as the browser sends it: (file name, bytes)."""
    files = biometric_files(client.settings.home.parent / "scans", skip=skip)
    return {role: (f"C:\\scans\\{path.name}", path.read_bytes()) for role, path in files.items()}


def form(index: int = 1, **changes: str) -> dict[str, str]:
    return {key: str(value) for key, value in person(index, **changes).items()}


def complete_draft(client: FieldClient, index: int = 1) -> drafts.Draft:
    return client.save_draft(
        None, form=form(index), operator="op.a", uploads=uploads(client, ("finger_l_little",)),
        exceptions={"finger_l_little": "amputated"}, data_key=DK,
    )


def snapshot(client: FieldClient) -> tuple[Any, ...]:
    """Everything saving a draft could write: rows of drafts and records, the files on disk."""
    tables = [
        [tuple(r) for r in client.outbox.rows(f"SELECT * FROM {table} ORDER BY 1, 2")]
        for table in ("draft", "draft_file", "record", "file")
    ]
    home = client.settings.home
    found = sorted(
        str(p.relative_to(home)) for p in home.rglob("*")
        if p.is_file() and p.parent != home
    )
    return tables, found, client.outbox.get_meta("next_seq")


# -- saving -----------------------------------------------------------------------------------


def test_a_draft_keeps_what_was_typed_and_its_files(client: FieldClient) -> None:
    typed = {"nik": "6109 0457 0890 0001", "nama": "maria", "rt": ""}
    made = client.save_draft(
        None, form=typed, operator="op.a",
        uploads={"photo": ("IMG 1.JPG", b"\xff\xd8" + b"x" * 3000)},
        exceptions={"finger_l_little": "amputated", "finger_r_thumb": ""}, data_key=DK,
    )
    again = client.draft(made.id, data_key=DK)
    assert again.form == typed and again.operator == "op.a" and again.record_id is None
    assert again.exceptions == {"finger_l_little": "amputated"}  # an empty reason is none
    photo = again.files["photo"]
    assert (photo.filename, photo.media_type, photo.size) == ("IMG 1.JPG", "image/jpeg", 3002)
    assert photo.path == client.settings.drafts_dir / made.id / "photo.jpg.enc"
    assert photo.read(DK) == b"\xff\xd8" + b"x" * 3000
    assert b"x" * 32 not in photo.path.read_bytes()  # encrypted at rest
    assert [d.id for d in client.drafts(data_key=DK)] == [made.id]
    assert client.status()["drafts"] == 1


def test_an_upload_replaces_its_role_and_remove_drops_one(client: FieldClient) -> None:
    made = client.save_draft(
        None, form={}, operator="op.a",
        uploads={"photo": ("a.jpg", b"1" * 3000), "signature": ("t.png", b"2" * 900)},
        data_key=DK,
    )
    old_photo = made.files["photo"].path
    changed = client.save_draft(
        made.id, form={"nama": "X"}, operator="op.b",
        uploads={"photo": ("b.png", b"3" * 4000)}, remove=["signature"], data_key=DK,
    )
    assert set(changed.files) == {"photo"} and changed.files["photo"].media_type == "image/png"
    assert not old_photo.exists() and changed.files["photo"].read(DK) == b"3" * 4000
    assert sorted(p.name for p in (client.settings.drafts_dir / made.id).iterdir()) == [
        "photo.png.enc"
    ]
    assert changed.form == {"nama": "X"} and changed.operator == "op.b"


@pytest.mark.parametrize(
    ("kw", "key", "text"),
    [
        ({"uploads": {"photo": ("wajah.gif", b"1" * 3000)}}, "file.photo", "'.gif' tidak didukung"),
        ({"uploads": {"photo": ("wajah.jpg", b"")}}, "file.photo", "wajah.jpg kosong"),
        (
            {"uploads": {"photo": ("wajah.jpg", b"1" * (10 * 1024 * 1024 + 1))}},
            "file.photo",
            "lebih besar dari 10 MB",
        ),
        ({"uploads": {"photo": ("kecil.jpg", b"1" * 10)}}, "file.photo", "terlalu kecil"),
        ({"uploads": {"finger_x": ("a.wsq", b"1" * 3000)}}, "file.finger_x", "tidak dikenal"),
        ({"uploads": {"iris_left": ("a.wsq", b"1" * 3000)}}, "file.iris_left", "tidak sesuai"),
        ({"remove": ["telapak"]}, "file.telapak", "tidak dikenal"),
        ({"exceptions": {"kaki": "amputated"}}, "exception.kaki", "tidak dikenal"),
        ({"form": {"warna": "biru"}}, "warna", "Kolom tidak dikenal"),
        ({"form": {"nama": 5}}, "nama", "Harus berupa teks"),
        ({"form": {"alamat": "x" * 501}}, "alamat", "Terlalu panjang"),
        ({"operator": " "}, "operator", "masuk dengan PIN"),
    ],
)
def test_a_bad_input_writes_nothing(
    client: FieldClient, kw: dict[str, Any], key: str, text: str
) -> None:
    made = client.save_draft(
        None, form={"nama": "ADA"}, operator="op.a", uploads={"photo": ("a.jpg", b"1" * 3000)},
        data_key=DK,
    )
    before = snapshot(client)
    good = {"form": {"nama": "B"}, "operator": "op.a", "uploads": {"photo": ("b.jpg", b"9" * 3000)}}
    for draft_id in (made.id, None):
        with pytest.raises(CaptureInvalid) as caught:
            client.save_draft(draft_id, **(good | kw), data_key=DK)
        assert any(text in m for m in caught.value.fields[key]), caught.value.fields
        assert "tidak ada yang diubah" in caught.value.message
        assert "incoming" not in " ".join(caught.value.lines())  # named as the operator chose
        assert snapshot(client) == before


def test_an_unknown_draft(client: FieldClient) -> None:
    for call in (
        lambda: client.draft("nope", data_key=DK),
        lambda: client.save_draft("nope", form={}, operator="op.a", data_key=DK),
        lambda: client.discard_draft("nope"),
        lambda: client.finalize_draft("nope", data_key=DK),
    ):
        with pytest.raises(DraftNotFound, match="tidak ada"):
            call()
    assert client.outbox.scalar("SELECT count(*) FROM draft") == 0


def test_discard_removes_the_row_and_the_files(client: FieldClient) -> None:
    made = client.save_draft(None, form={}, operator="op.a", uploads=uploads(client),
                             data_key=DK)
    client.discard_draft(made.id)
    assert client.drafts(data_key=DK) == []
    assert not (client.settings.drafts_dir / made.id).exists()
    assert client.outbox.scalar("SELECT count(*) FROM draft_file") == 0


# -- finalizing -------------------------------------------------------------------------------


def test_finalize_saves_one_record_and_keeps_a_tombstone(client: FieldClient) -> None:
    made = complete_draft(client)
    saved = client.finalize_draft(made.id, data_key=DK)
    [row] = client.records(data_key=DK)
    assert (row["id"], row["seq"], row["state"], row["operator"]) == (saved.id, 1, "ready", "op.a")
    body = opened(client, saved.id)
    assert body["exceptions"] == [{"role": "finger_l_little", "reason": "amputated"}]
    assert len(body["attachments"]) == 13
    tomb = client.draft(made.id, data_key=DK)
    assert (tomb.record_id, tomb.seq, tomb.form, tomb.exceptions, tomb.files) == (
        saved.id, 1, {}, {}, {}
    )
    raw = client.outbox.rows(
        "SELECT form, exceptions, target_nik, sealed, target_mac FROM draft")[0]
    assert tuple(raw) == (None,) * 5  # no personal data left in the draft, not even sealed
    assert not (client.settings.drafts_dir / made.id).exists()
    assert client.drafts(data_key=DK) == [] and client.status()["drafts"] == 0

    again = client.finalize_draft(made.id, operator="op.b", data_key=DK)  # a double click
    assert (again.id, again.seq, again.record_sha256) == (saved.id, 1, saved.record_sha256)
    assert len(client.records()) == 1
    with pytest.raises(DraftClosed, match="seq 1"):
        client.save_draft(made.id, form={}, operator="op.a", data_key=DK)
    with pytest.raises(DraftClosed, match="seq 1"):
        client.discard_draft(made.id)


def test_an_invalid_draft_is_not_saved_and_stays_as_it_was(client: FieldClient) -> None:
    made = client.save_draft(
        None, form=form(1, rt="", tanggal_lahir="17-08-1990"), operator="op.a",
        uploads=uploads(client, ("finger_l_little", "photo")),
        exceptions={"finger_l_little": "lupa"}, data_key=DK
    )
    before = snapshot(client)
    with pytest.raises(CaptureInvalid) as caught:
        client.finalize_draft(made.id, data_key=DK)
    fields = caught.value.fields
    assert fields["rt"] == ["Wajib diisi."]
    assert "Tanggal tidak sah" in fields["tanggal_lahir"][0]
    assert "Alasan 'lupa' tidak dikenal" in fields["exception.finger_l_little"][0]
    assert fields["biometrics.photo"] == [
        "Foto wajah wajib ada: unggah berkasnya. Foto tidak dapat dikecualikan."
    ]
    with pytest.raises(CaptureInvalid):
        client.check_draft(made.id, data_key=DK)
    assert snapshot(client) == before


def test_check_draft_gives_the_warnings_and_saves_nothing(client: FieldClient) -> None:
    made = client.save_draft(
        None, form=form(1, jenis_kelamin="LAKI-LAKI"), operator="op.a",
        uploads=uploads(client, ("finger_l_little",)), exceptions={"finger_l_little": "injured"},
        data_key=DK,
    )
    before = snapshot(client)
    assert [w["code"] for w in client.check_draft(made.id, data_key=DK)] == ["nik_sex_mismatch"]
    assert snapshot(client) == before


def test_a_missing_operator_is_said_for_the_web(client: FieldClient) -> None:
    made = complete_draft(client)
    with client.outbox.atomic():
        client.outbox.execute("UPDATE draft SET operator = NULL")
    with pytest.raises(CaptureInvalid) as caught:
        client.finalize_draft(made.id, data_key=DK)
    assert caught.value.fields["operator"] == [
        "Operator belum masuk; masuk dengan PIN lalu ulangi."
    ]
    assert client.finalize_draft(made.id, operator="op.z", data_key=DK).seq == 1


def test_two_clients_finalizing_the_same_draft_save_one_record(
    client: FieldClient, server: FakeServer
) -> None:
    made = complete_draft(client)
    results: list[Any] = []
    barrier = threading.Barrier(2)

    def finalize() -> None:
        with FieldClient(settings=client.settings, transport_factory=server.transport) as other:
            barrier.wait()
            try:
                results.append(other.finalize_draft(made.id, data_key=DK))
            except Exception as exc:  # reported by the assert below
                results.append(exc)

    threads = [threading.Thread(target=finalize) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 2 and results[0] == results[1], results
    assert client.outbox.scalar("SELECT count(*) FROM record") == 1
    assert client.outbox.get_meta("next_seq") == "2"


def test_a_save_that_lost_the_race_returns_the_other_record(client: FieldClient) -> None:
    """The guard itself: the draft is marked saved between the check and the transaction."""
    made = complete_draft(client)
    real = drafts._prepare
    calls: list[int] = []

    def racing(*args: Any) -> Any:
        checked = real(*args)
        calls.append(1)
        if len(calls) == 1:  # the other tab saves right after this one checked
            with FieldClient(settings=client.settings) as other:
                other.finalize_draft(made.id, data_key=DK)
        return checked

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(drafts, "_prepare", racing)
        saved = client.finalize_draft(made.id, data_key=DK)
    assert client.outbox.scalar("SELECT count(*) FROM record") == 1
    assert saved.id == client.draft(made.id, data_key=DK).record_id


# -- from a record or a target ----------------------------------------------------------------


def sent_back(client: FieldClient, server: FakeServer, state: str) -> str:
    saved = client.finalize_draft(complete_draft(client).id, data_key=DK)
    client.sync()
    server.status_change(saved.id, state, REASON)
    client.sync()
    return saved.id


def test_a_needs_fix_record_becomes_a_fix_draft(client: FieldClient, server: FakeServer) -> None:
    old = sent_back(client, server, "needs_fix")
    made = client.draft_from_record(old, "op.b", data_key=DK)
    assert made.supersedes == old and made.operator == "op.b"
    assert made.form["nama"] == "MARIA GORETTI" and len(made.files) == 13
    assert made.exceptions == {"finger_l_little": "amputated"}
    # A second click: the same draft.
    assert client.draft_from_record("1", "op.b", data_key=DK).id == made.id

    with pytest.raises(FixRefused, match="Belum ada yang diubah"):
        client.finalize_draft(made.id, data_key=DK)
    client.save_draft(made.id, form=made.form | {"nama": "MARIA GORETI"}, operator="op.b",
                      data_key=DK)
    fixed = client.finalize_draft(made.id, data_key=DK)
    by_id = {r["id"]: r for r in client.records()}
    assert by_id[old]["state"] == "superseded" and by_id[fixed.id]["supersedes"] == old
    with pytest.raises(FixRefused, match="berstatus superseded"):
        client.draft_from_record(old, "op.b", data_key=DK)


def test_a_rejected_record_becomes_a_new_record_draft(
    client: FieldClient, server: FakeServer
) -> None:
    old = sent_back(client, server, "rejected")
    sealed_before = sealed_of(client, old)
    made = client.draft_from_record(old, "op.b", data_key=DK)
    assert made.supersedes is None and len(made.files) == 13
    # Until "Rekam ulang" has made its successor, the rejected record keeps its sealed copy.
    assert sealed_of(client, old) == sealed_before and opened(client, old)["id"] == old
    saved = client.finalize_draft(made.id, data_key=DK)
    new = opened(client, saved.id)
    assert "supersedes" not in new
    assert new["payload"] == opened_before_payload(sealed_before)
    assert sealed_of(client, old) is None  # the successor is saved: the old copy goes
    [row] = [r for r in client.records() if r["id"] == old]
    assert row["purged"] and row["state"] == "rejected"
    # The files both name stay (the new record names them, sealed once).
    for sha256 in {a["sha256"] for a in new["attachments"]}:
        assert (client.settings.home / blobs.relative_path(sha256)).is_file()


def sealed_of(client: FieldClient, record_id: str) -> bytes | None:
    value = client.outbox.scalar("SELECT sealed FROM record WHERE id = ?", (record_id,))
    return None if value is None else bytes(value)


def opened_before_payload(sealed: bytes | None) -> Any:
    """The card data of a sealed record, as the office opens it."""
    assert sealed is not None
    return open_sealed_record(sealed)["payload"]


def test_a_rejected_record_keeps_its_sealed_copy_when_rekam_ulang_fails_or_is_dropped(
    client: FieldClient, server: FakeServer
) -> None:
    old = sent_back(client, server, "rejected")
    sealed_before = sealed_of(client, old)
    files_before = client.outbox.rows("SELECT * FROM file WHERE record_id = ?", (old,))
    made = client.draft_from_record(old, "op.b", data_key=DK)
    client.save_draft(made.id, form=made.form | {"rt": ""}, operator="op.b", data_key=DK)
    with pytest.raises(CaptureInvalid):  # the new record is not saved: the old copy stays
        client.finalize_draft(made.id, data_key=DK)
    assert sealed_of(client, old) == sealed_before
    client.discard_draft(made.id)  # dropped: the old copy stays, files and all
    assert sealed_of(client, old) == sealed_before
    after = client.outbox.rows("SELECT * FROM file WHERE record_id = ?", (old,))
    assert [tuple(r) for r in after] == [tuple(r) for r in files_before]
    for row in after:
        assert (client.settings.home / row["path"]).is_file()
    again = client.draft_from_record(old, "op.b", data_key=DK)  # and it can be tried again
    assert client.finalize_draft(again.id, data_key=DK).seq == 2
    assert sealed_of(client, old) is None


@pytest.mark.parametrize(("ref", "text"), [("99", "tidak ada"), ("", "tidak ada")])
def test_a_record_that_cannot_become_a_draft(client: FieldClient, ref: str, text: str) -> None:
    before = snapshot(client)
    with pytest.raises(FixRefused, match=text):
        client.draft_from_record(ref, "op.a", data_key=DK)
    assert snapshot(client) == before


def test_a_ready_record_cannot_become_a_draft(client: FieldClient) -> None:
    client.finalize_draft(complete_draft(client).id, data_key=DK)
    before = snapshot(client)
    with pytest.raises(FixRefused, match="berstatus ready"):
        client.draft_from_record("1", "op.a", data_key=DK)
    assert snapshot(client) == before


def test_a_rejected_record_s_replaced_file_goes_with_its_sealed_copy(
    client: FieldClient, server: FakeServer
) -> None:
    old = sent_back(client, server, "rejected")
    photo = client.outbox.rows(
        "SELECT sha256, path FROM file WHERE record_id = ? AND role = 'photo'", (old,))[0]
    made = client.draft_from_record(old, "op.b", data_key=DK)
    client.save_draft(made.id, form=made.form, operator="op.b", data_key=DK,
                      uploads={"photo": ("baru.jpg", b"\xff\xd8" + b"7" * 4000)})
    saved = client.finalize_draft(made.id, data_key=DK)
    assert {a["role"]: a["sha256"] for a in opened(client, saved.id)["attachments"]}["photo"] \
        != photo["sha256"]
    assert not (client.settings.home / photo["path"]).exists()  # no record names it now


# -- at rest ----------------------------------------------------------------------------------


def home_bytes(client: FieldClient) -> bytes:
    """Every byte under the home folder (database, WAL, draft files)."""
    return b"".join(p.read_bytes() for p in sorted(client.settings.home.rglob("*"))
                    if p.is_file())


def test_a_draft_rests_under_the_data_key(client: FieldClient) -> None:
    typed = form(1)
    sent = uploads(client)
    made = client.save_draft(None, form=typed, operator="op.a", uploads=sent, data_key=DK,
                             target_nik=typed["nik"])
    stored = home_bytes(client)
    assert typed["nik"].encode() not in stored and typed["nik"][-6:].encode() not in stored
    assert typed["nama"].encode() not in stored and typed["alamat"].encode() not in stored
    for _, data in sent.values():
        slices = {data[i:i + 32] for i in range(0, len(data) - 32, 97)}
        assert not any(piece in stored for piece in slices)
    row = client.outbox.rows("SELECT * FROM draft WHERE id = ?", (made.id,))[0]
    assert (row["form"], row["exceptions"], row["target_nik"]) == (None, None, None)
    assert datakey.decrypt_json(DK, bytes(row["sealed"]))["form"] == typed
    assert row["target_mac"] == datakey.nik_mac(DK, typed["nik"])
    # Only the right data key opens it: the form, and every file.
    wrong = datakey.new_data_key()
    with pytest.raises(datakey.DataKeyError):
        datakey.decrypt_json(wrong, bytes(row["sealed"]))
    for role, file in client.draft(made.id, data_key=DK).files.items():
        assert file.read(DK) == sent[role][1]
        with pytest.raises(datakey.DataKeyError):
            file.read(wrong)
    with pytest.raises(DraftNotFound, match="kunci perangkat lain"):
        client.draft(made.id, data_key=wrong)
    with pytest.raises(DraftNotFound):
        client.finalize_draft(made.id, data_key=wrong)
    assert client.outbox.scalar("SELECT count(*) FROM record") == 0


def test_drafts_left_unsaved_for_72_hours_are_deleted_at_open(client: FieldClient) -> None:
    old = client.save_draft(None, form=form(1), operator="op.a", uploads=uploads(client),
                            data_key=DK)
    recent = client.save_draft(None, form=form(2), operator="op.a", uploads=uploads(client),
                               data_key=DK)
    saved = complete_draft(client, 3)
    client.finalize_draft(saved.id, data_key=DK)
    now = dt.datetime.now(dt.UTC)
    with client.outbox.atomic():
        for draft_id, hours in ((old.id, 73), (recent.id, 71), (saved.id, 73)):
            moment = (now - dt.timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            client.outbox.execute("UPDATE draft SET updated_at = ? WHERE id = ?",
                                  (moment, draft_id))
    settings = client.settings
    client.close()
    with FieldClient(settings=settings) as again:
        assert [d.id for d in again.drafts(data_key=DK)] == [recent.id]
        left = {row["id"] for row in again.outbox.rows("SELECT id FROM draft")}
        assert left == {recent.id}  # the saved draft's old tombstone went too
        assert not (settings.drafts_dir / old.id).exists()
        assert (settings.drafts_dir / recent.id).is_dir()
        assert again.outbox.scalar("SELECT count(*) FROM draft_file WHERE draft_id = ?",
                                   (old.id,)) == 0
        assert again.outbox.scalar("SELECT count(*) FROM record") == 1  # records stay
        with pytest.raises(DraftNotFound, match="72 jam"):
            again.draft(old.id, data_key=DK)


def test_a_draft_from_the_target_list(settings: Settings) -> None:
    server = OutreachServer()
    server.assign([target(7, "SITI AMINAH")])
    with outreach_client(settings, server) as made:
        made.sync()
        draft = made.draft_from_target("6109045708900007", "op.a", data_key=DK)
        assert draft.target_nik == "6109045708900007"
        assert draft.form["nama"] == "SITI AMINAH" and draft.form["desa_kode"] == "61.09.04.2006"
        assert made.draft_from_target("6109045708900007", "op.a", data_key=DK).id == draft.id
        with pytest.raises(Exception, match="tidak ada di daftar sasaran"):
            made.draft_from_target("6109045708900008", "op.a", data_key=DK)
        assert len(made.drafts(data_key=DK)) == 1


def test_rekam_ulang_deletes_only_the_rejected_record_s_own_files(
    client: FieldClient, server: FakeServer
) -> None:
    old = sent_back(client, server, "rejected")
    # A file another save is sealing right now: no row names it until that save commits.
    elsewhere = client.settings.files_dir / f"{'e' * 64}{blobs.SEALED_SUFFIX}"
    elsewhere.write_bytes(b"sealed elsewhere")
    made = client.draft_from_record(old, "op.b", data_key=DK)
    client.finalize_draft(made.id, data_key=DK)
    assert elsewhere.read_bytes() == b"sealed elsewhere"


def test_a_draft_under_another_data_key_does_not_hide_the_others(
    client: FieldClient, server: FakeServer
) -> None:
    """After a new registration (a new data key) an old draft opens no more: the list, and
    "Rekam ulang" of the same record, go on without it."""
    old = sent_back(client, server, "rejected")
    earlier_key = datakey.new_data_key()
    stale = client.save_draft(None, form={"nama": "LAMA"}, operator="op.a",
                              data_key=earlier_key, source_record=old)
    mine = client.save_draft(None, form={"nama": "BARU"}, operator="op.a", data_key=DK)
    assert [d.id for d in client.drafts(data_key=DK)] == [mine.id]
    again = client.draft_from_record(old, "op.b", data_key=DK)
    assert again.id not in (stale.id, mine.id) and again.source_record == old
    client.discard_draft(stale.id)  # no key needed to throw it away
    assert client.outbox.scalar("SELECT count(*) FROM draft WHERE id = ?", (stale.id,)) == 0
