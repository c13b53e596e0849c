"""Drafts of the operator web app: saved as typed, files staged, finalized exactly once."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from field_client.capture import drafts
from field_client.client import FieldClient
from field_client.config import Settings
from field_client.errors import CaptureInvalid, DraftClosed, DraftNotFound, FixRefused
from tests.support.fakes import FakeServer, registered_client
from tests.support.field import biometric_files, biometric_hashes, person
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
        exceptions={"finger_l_little": "amputated"},
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
        exceptions={"finger_l_little": "amputated", "finger_r_thumb": ""},
    )
    again = client.draft(made.id)
    assert again.form == typed and again.operator == "op.a" and again.record_id is None
    assert again.exceptions == {"finger_l_little": "amputated"}  # an empty reason is none
    photo = again.files["photo"]
    assert (photo.filename, photo.media_type, photo.size) == ("IMG 1.JPG", "image/jpeg", 3002)
    assert photo.path == client.settings.drafts_dir / made.id / "photo.jpg"
    assert photo.path.read_bytes()[:2] == b"\xff\xd8"
    assert [d.id for d in client.drafts()] == [made.id]
    assert client.status()["drafts"] == 1


def test_an_upload_replaces_its_role_and_remove_drops_one(client: FieldClient) -> None:
    made = client.save_draft(
        None, form={}, operator="op.a",
        uploads={"photo": ("a.jpg", b"1" * 3000), "signature": ("t.png", b"2" * 900)},
    )
    old_photo = made.files["photo"].path
    changed = client.save_draft(
        made.id, form={"nama": "X"}, operator="op.b",
        uploads={"photo": ("b.png", b"3" * 4000)}, remove=["signature"],
    )
    assert set(changed.files) == {"photo"} and changed.files["photo"].media_type == "image/png"
    assert not old_photo.exists() and changed.files["photo"].path.read_bytes() == b"3" * 4000
    assert sorted(p.name for p in (client.settings.drafts_dir / made.id).iterdir()) == [
        "photo.png"
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
        None, form={"nama": "ADA"}, operator="op.a", uploads={"photo": ("a.jpg", b"1" * 3000)}
    )
    before = snapshot(client)
    good = {"form": {"nama": "B"}, "operator": "op.a", "uploads": {"photo": ("b.jpg", b"9" * 3000)}}
    for draft_id in (made.id, None):
        with pytest.raises(CaptureInvalid) as caught:
            client.save_draft(draft_id, **(good | kw))
        assert any(text in m for m in caught.value.fields[key]), caught.value.fields
        assert "tidak ada yang diubah" in caught.value.message
        assert "incoming" not in " ".join(caught.value.lines())  # named as the operator chose
        assert snapshot(client) == before


def test_an_unknown_draft(client: FieldClient) -> None:
    for call in (
        lambda: client.draft("nope"),
        lambda: client.save_draft("nope", form={}, operator="op.a"),
        lambda: client.discard_draft("nope"),
        lambda: client.finalize_draft("nope"),
    ):
        with pytest.raises(DraftNotFound, match="tidak ada"):
            call()
    assert client.outbox.scalar("SELECT count(*) FROM draft") == 0


def test_discard_removes_the_row_and_the_files(client: FieldClient) -> None:
    made = client.save_draft(None, form={}, operator="op.a", uploads=uploads(client))
    client.discard_draft(made.id)
    assert client.drafts() == [] and not (client.settings.drafts_dir / made.id).exists()
    assert client.outbox.scalar("SELECT count(*) FROM draft_file") == 0


# -- finalizing -------------------------------------------------------------------------------


def test_finalize_saves_one_record_and_keeps_a_tombstone(client: FieldClient) -> None:
    made = complete_draft(client)
    saved = client.finalize_draft(made.id)
    [row] = client.records()
    assert (row["id"], row["seq"], row["state"], row["operator"]) == (saved.id, 1, "ready", "op.a")
    body = json.loads(client.outbox.scalar("SELECT body FROM record"))
    assert body["exceptions"] == [{"role": "finger_l_little", "reason": "amputated"}]
    assert len(body["attachments"]) == 13
    tomb = client.draft(made.id)
    assert (tomb.record_id, tomb.seq, tomb.form, tomb.exceptions, tomb.files) == (
        saved.id, 1, {}, {}, {}
    )
    raw = client.outbox.rows("SELECT form, exceptions, target_nik FROM draft")[0]
    assert tuple(raw) == (None, None, None)  # no personal data left in the draft
    assert not (client.settings.drafts_dir / made.id).exists()
    assert client.drafts() == [] and client.status()["drafts"] == 0

    again = client.finalize_draft(made.id, operator="op.b")  # a double click
    assert (again.id, again.seq, again.record_sha256) == (saved.id, 1, saved.record_sha256)
    assert len(client.records()) == 1
    with pytest.raises(DraftClosed, match="seq 1"):
        client.save_draft(made.id, form={}, operator="op.a")
    with pytest.raises(DraftClosed, match="seq 1"):
        client.discard_draft(made.id)


def test_an_invalid_draft_is_not_saved_and_stays_as_it_was(client: FieldClient) -> None:
    made = client.save_draft(
        None, form=form(1, rt="", tanggal_lahir="17-08-1990"), operator="op.a",
        uploads=uploads(client, ("finger_l_little", "photo")),
        exceptions={"finger_l_little": "lupa"},
    )
    before = snapshot(client)
    with pytest.raises(CaptureInvalid) as caught:
        client.finalize_draft(made.id)
    fields = caught.value.fields
    assert fields["rt"] == ["Wajib diisi."]
    assert "Tanggal tidak sah" in fields["tanggal_lahir"][0]
    assert "Alasan 'lupa' tidak dikenal" in fields["exception.finger_l_little"][0]
    assert fields["biometrics.photo"] == [
        "Foto wajah wajib ada: unggah berkasnya. Foto tidak dapat dikecualikan."
    ]
    with pytest.raises(CaptureInvalid):
        client.check_draft(made.id)
    assert snapshot(client) == before


def test_check_draft_gives_the_warnings_and_saves_nothing(client: FieldClient) -> None:
    made = client.save_draft(
        None, form=form(1, jenis_kelamin="LAKI-LAKI"), operator="op.a",
        uploads=uploads(client, ("finger_l_little",)), exceptions={"finger_l_little": "injured"},
    )
    before = snapshot(client)
    assert [w["code"] for w in client.check_draft(made.id)] == ["nik_sex_mismatch"]
    assert snapshot(client) == before


def test_a_missing_operator_is_said_for_the_web(client: FieldClient) -> None:
    made = complete_draft(client)
    with client.outbox.atomic():
        client.outbox.execute("UPDATE draft SET operator = NULL")
    with pytest.raises(CaptureInvalid) as caught:
        client.finalize_draft(made.id)
    assert caught.value.fields["operator"] == [
        "Operator belum masuk; masuk dengan PIN lalu ulangi."
    ]
    assert client.finalize_draft(made.id, operator="op.z").seq == 1


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
                results.append(other.finalize_draft(made.id))
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
                other.finalize_draft(made.id)
        return checked

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(drafts, "_prepare", racing)
        saved = client.finalize_draft(made.id)
    assert client.outbox.scalar("SELECT count(*) FROM record") == 1
    assert saved.id == client.draft(made.id).record_id


# -- from a record or a target ----------------------------------------------------------------


def sent_back(client: FieldClient, server: FakeServer, state: str) -> str:
    saved = client.finalize_draft(complete_draft(client).id)
    client.sync()
    server.status_change(saved.id, state, REASON)
    client.sync()
    return saved.id


def test_a_needs_fix_record_becomes_a_fix_draft(client: FieldClient, server: FakeServer) -> None:
    old = sent_back(client, server, "needs_fix")
    made = client.draft_from_record(old, "op.b")
    assert made.supersedes == old and made.operator == "op.b"
    assert made.form["nama"] == "MARIA GORETTI" and len(made.files) == 13
    assert made.exceptions == {"finger_l_little": "amputated"}
    assert client.draft_from_record("1", "op.b").id == made.id  # a second click: same draft

    with pytest.raises(FixRefused, match="Belum ada yang diubah"):
        client.finalize_draft(made.id)
    client.save_draft(made.id, form=made.form | {"nama": "MARIA GORETI"}, operator="op.b")
    fixed = client.finalize_draft(made.id)
    by_id = {r["id"]: r for r in client.records()}
    assert by_id[old]["state"] == "superseded" and by_id[fixed.id]["supersedes"] == old
    with pytest.raises(FixRefused, match="berstatus superseded"):
        client.draft_from_record(old, "op.b")


def test_a_rejected_record_becomes_a_new_record_draft(
    client: FieldClient, server: FakeServer
) -> None:
    old = sent_back(client, server, "rejected")
    made = client.draft_from_record(old, "op.b")
    assert made.supersedes is None and len(made.files) == 13
    saved = client.finalize_draft(made.id)
    assert "supersedes" not in json.loads(client.outbox.scalar(
        "SELECT body FROM record WHERE id = ?", (saved.id,)
    ))


@pytest.mark.parametrize(("ref", "text"), [("99", "tidak ada"), ("", "tidak ada")])
def test_a_record_that_cannot_become_a_draft(client: FieldClient, ref: str, text: str) -> None:
    before = snapshot(client)
    with pytest.raises(FixRefused, match=text):
        client.draft_from_record(ref, "op.a")
    assert snapshot(client) == before


def test_a_ready_record_cannot_become_a_draft(client: FieldClient) -> None:
    client.finalize_draft(complete_draft(client).id)
    before = snapshot(client)
    with pytest.raises(FixRefused, match="berstatus ready"):
        client.draft_from_record("1", "op.a")
    assert snapshot(client) == before


def test_a_draft_from_the_target_list(settings: Settings) -> None:
    server = OutreachServer()
    server.assign([target(7, "SITI AMINAH")])
    with outreach_client(settings, server) as made:
        made.sync()
        draft = made.draft_from_target("6109045708900007", "op.a")
        assert draft.target_nik == "6109045708900007"
        assert draft.form["nama"] == "SITI AMINAH" and draft.form["desa_kode"] == "61.09.04.2006"
        assert made.draft_from_target("6109045708900007", "op.a").id == draft.id
        with pytest.raises(Exception, match="tidak ada di daftar sasaran"):
            made.draft_from_target("6109045708900008", "op.a")
        assert len(made.drafts()) == 1
