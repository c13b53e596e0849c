"""Capture: a valid record is sealed and saved durably; every bad input is refused clearly."""

from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from field_client.client import FieldClient
from field_client.config import load_settings
from field_client.errors import CaptureInvalid
from field_client.store import blobs, records
from shared import datakey
from shared.canonical import canonical_json, record_sha256, sha256_file
from shared.display import mask_name
from shared.schemas import RecordSchema
from shared.vocab import BIOMETRIC_ROLES, MAX_ATTACHMENT_BYTES
from tests.support.field import DK, biometric_files, opened, opened_file, person, write_file
from tests.support.keys import give_office_key, open_sealed_record
from tests.support.payloads import payload


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    """A complete recording's 14 files."""
    return biometric_files(tmp_path / "scans")


def stored_record(client: FieldClient, record_id: str) -> dict[str, Any]:
    """The saved record as the office opens it."""
    return opened(client, record_id)


def test_valid_capture_is_sealed_and_queued(field_client: FieldClient, tmp_path: Path) -> None:
    photo = write_file(tmp_path / "in" / "photo.JPG", 3000)
    finger = write_file(tmp_path / "in" / "r_thumb.wsq", 1500, seed=2)
    scans = biometric_files(tmp_path / "scans", skip=["finger_l_little"])
    saved = field_client.enroll(
        payload(),
        "op.suryadi",
        files={**scans, "photo": photo, "finger_r_thumb": finger},
        exceptions={"finger_l_little": "amputated"}, data_key=DK
    )
    assert saved.seq == 1
    assert uuid.UUID(saved.id).version == 7
    record = stored_record(field_client, saved.id)
    RecordSchema().load(record)  # the wire schema accepts what will be sent
    assert record["record_sha256"] == record_sha256(record) == saved.record_sha256
    assert record["captured_at"].endswith("Z")
    assert record["type"] == "enrollment" and record["operator"] == "op.suryadi"
    assert record["exceptions"] == [{"role": "finger_l_little", "reason": "amputated"}]
    photo_sha, photo_size = sha256_file(photo)
    assert {
        "role": "photo",
        "sha256": photo_sha,
        "size": photo_size,
        "media_type": "image/jpeg",
    } in (record["attachments"])
    assert {a["media_type"] for a in record["attachments"]} == {
        "image/jpeg", "image/png", "image/jp2", "image/x-wsq"
    }  # fmt: skip
    assert [a["role"] for a in record["attachments"]] == [
        role for role in BIOMETRIC_ROLES if role != "finger_l_little"
    ]
    kept = field_client.settings.files_dir / f"{photo_sha}.sealed"
    assert photo.read_bytes() not in kept.read_bytes()  # sealed: not the file itself
    assert opened_file(field_client, photo_sha) == photo.read_bytes()
    assert not (field_client.settings.files_dir / photo_sha).exists()
    assert field_client.status()["counts"]["ready"] == 1
    stored = field_client.outbox.rows("SELECT * FROM file WHERE record_id = ?", (saved.id,))
    assert len(stored) == 13


def test_the_sealed_record_is_stable_across_reopen_and_only_the_office_opens_it(
    field_client: FieldClient, files: dict[str, Path]
) -> None:
    saved = field_client.enroll(payload(), "op.a", files=files, data_key=DK)
    row = field_client.outbox.rows("SELECT * FROM record WHERE id = ?", (saved.id,))[0]
    sealed = bytes(row["sealed"])
    assert hashlib.sha256(sealed).hexdigest() == row["sealed_sha256"]
    assert row["key_id"] == "test-key" and row["legacy_body"] is None
    assert b"MARIA" not in sealed and payload()["nik"].encode() not in sealed
    field_client.close()
    with FieldClient(settings=field_client.settings) as again:
        pending = records.ready_batch(again.outbox, 0, 10)
        assert [p.sealed for p in pending] == [sealed]  # sent byte for byte, every time
    record = open_sealed_record(sealed)
    assert record["payload"] == payload()
    assert record_sha256(record) == record["record_sha256"] == saved.record_sha256
    assert canonical_json(record) == canonical_json(json.loads(canonical_json(record)))


def test_the_laptop_keeps_only_keyed_and_masked_data_of_a_record(
    field_client: FieldClient, files: dict[str, Path]
) -> None:
    saved = field_client.enroll(payload(), "op.a", files=files, data_key=DK)
    row = field_client.outbox.rows("SELECT * FROM record WHERE id = ?", (saved.id,))[0]
    assert row["nik_mac"] == datakey.nik_mac(DK, payload()["nik"])
    assert datakey.decrypt_json(DK, bytes(row["label"])) == {
        "nama": mask_name(payload()["nama"]), "operator": "op.a"}
    listed = field_client.records(data_key=DK)[0]
    assert listed["nama"] == mask_name(payload()["nama"]) and listed["operator"] == "op.a"
    assert field_client.records()[0]["nama"] is None  # without the key: nothing


def test_operator_input_is_normalised(field_client: FieldClient, files: dict[str, Path]) -> None:
    messy = payload(
        nik="6109 0457-0890.0001",
        nama="  maria   goretti ",
        tempat_lahir="sekadau",
        jenis_kelamin="perempuan",
        alamat="dusun  tembaga",
        rt="1",
        rw="02",
        agama="katholik",
        pekerjaan="petani/pekebun",
        kewarganegaraan="wni",
    )
    saved = field_client.enroll(messy, "op.a", files=files, data_key=DK)
    assert stored_record(field_client, saved.id)["payload"] == payload()


def test_same_card_typed_differently_gives_the_same_payload(
    field_client: FieldClient, files: dict[str, Path]
) -> None:
    one = field_client.enroll(payload(nama="maria goretti", rt="1"), "op.a", files=files,
                              data_key=DK)
    two = field_client.enroll(payload(), "op.a", files=files, data_key=DK)
    assert (
        stored_record(field_client, one.id)["payload"]
        == stored_record(field_client, two.id)["payload"]
    )


def test_nik_disagreement_is_a_warning_not_a_refusal(
    field_client: FieldClient, files: dict[str, Path]
) -> None:
    saved = field_client.enroll(payload(jenis_kelamin="LAKI-LAKI"), "op.a", files=files,
                                data_key=DK)
    assert [w["code"] for w in saved.warnings] == ["nik_sex_mismatch"]
    later = field_client.enroll(payload(tanggal_lahir="1990-08-18"), "op.a", files=files,
                                data_key=DK)
    codes = [w["code"] for w in later.warnings]
    assert "nik_birth_date_mismatch" in codes and "nik_already_recorded" in codes
    assert field_client.status()["ready"] == 2


def test_same_file_is_stored_once(
    field_client: FieldClient, tmp_path: Path, files: dict[str, Path]
) -> None:
    photo = write_file(tmp_path / "photo.jpg")
    copy = write_file(tmp_path / "other-name.jpeg")
    field_client.enroll(person(1), "op.a", files={**files, "photo": photo}, data_key=DK)
    field_client.enroll(person(2), "op.a", files={**files, "photo": copy}, data_key=DK)
    assert len(list(field_client.settings.files_dir.iterdir())) == len(BIOMETRIC_ROLES)


def test_one_file_under_two_niks_keeps_its_plaintext_hash_in_both_records(
    field_client: FieldClient, tmp_path: Path, files: dict[str, Path]
) -> None:
    """The office's shared_biometric check compares the records' attachment hashes: sealing
    must not change them, here (sealed once) or on another laptop (sealed again)."""
    photo = write_file(tmp_path / "photo.jpg", 4000, seed=7)
    plain = hashlib.sha256(photo.read_bytes()).hexdigest()
    one = field_client.enroll(person(1), "op.a", files={**files, "photo": photo}, data_key=DK)
    two = field_client.enroll(person(2), "op.a", files={**files, "photo": photo}, data_key=DK)
    other_home = field_client.settings.home.parent / "other-laptop"
    with FieldClient(settings=load_settings(other_home, environ={})) as other:
        with other.outbox.atomic():
            give_office_key(other.outbox)
        three = other.enroll(person(3), "op.b", files={**files, "photo": photo}, data_key=DK)
        third = opened(other, three.id)
        resealed = (other.settings.home / blobs.relative_path(plain)).read_bytes()
        assert opened_file(other, plain) == photo.read_bytes()
    records_seen = [opened(field_client, one.id), opened(field_client, two.id), third]
    assert len({r["payload"]["nik"] for r in records_seen}) == 3
    for record in records_seen:
        assert {"role": "photo", "sha256": plain, "size": 4000, "media_type": "image/jpeg"} \
            in record["attachments"]
    rows = field_client.outbox.rows(
        "SELECT record_id, path, sealed_sha256 FROM file WHERE role = 'photo'")
    assert {r["record_id"] for r in rows} == {one.id, two.id}
    assert len({(r["path"], r["sealed_sha256"]) for r in rows}) == 1  # sealed once here
    kept = (field_client.settings.home / rows[0]["path"]).read_bytes()
    assert kept != resealed  # sealed twice in all, each time anew
    assert opened_file(field_client, plain) == photo.read_bytes()



def test_a_file_sealed_meanwhile_by_another_save_is_the_copy_the_record_names(
    field_client: FieldClient, tmp_path: Path, files: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two saves of the same new file at once (the web app and an import): the copy the first
    one kept is not replaced, so the digest its record noted stays true."""
    photo = write_file(tmp_path / "photo.jpg", 4000, seed=9)
    plain = hashlib.sha256(photo.read_bytes()).hexdigest()
    target = field_client.settings.home / blobs.relative_path(plain)
    real_seal = blobs.seal
    first: list[bytes] = []

    def racing(public: bytes, data: bytes) -> bytes:
        if data == photo.read_bytes() and not first:  # the other save wins the race
            first.append(real_seal(public, data))
            target.write_bytes(first[0])
        return real_seal(public, data)

    monkeypatch.setattr(blobs, "seal", racing)
    saved = field_client.enroll(person(1), "op.a", files={**files, "photo": photo}, data_key=DK)
    row = field_client.outbox.rows(
        "SELECT sealed_sha256, sealed_size FROM file WHERE record_id = ? AND role = 'photo'",
        (saved.id,))[0]
    assert target.read_bytes() == first[0]
    assert row["sealed_sha256"] == hashlib.sha256(first[0]).hexdigest()
    assert row["sealed_size"] == len(first[0])
    assert opened_file(field_client, plain) == photo.read_bytes()
    assert not list(target.parent.glob(".incoming-*"))


BAD_PAYLOADS = [
    ("nik", {"nik": "610904570890001"}, "16 angka"),
    ("nik", {"nik": "61090457089000012"}, "16 angka"),
    ("nik", {"nik": "61090457089OOO01"}, "angka"),
    ("tanggal_lahir", {"tanggal_lahir": "1990-02-31"}, "Tanggal tidak sah"),
    ("tanggal_lahir", {"tanggal_lahir": "2990-01-01"}, "masa depan"),
    ("jenis_kelamin", {"jenis_kelamin": "WANITA"}, "Pilihan tidak dikenal"),
    ("agama", {"agama": "JEDI"}, "Pilihan tidak dikenal"),
    ("golongan_darah", {"golongan_darah": "Z"}, "Pilihan tidak dikenal"),
    ("nama", {"nama": "A" * 61}, "1-60"),
    ("nama", {"nama": "MARIA 2"}, "tidak diizinkan"),
    ("rt", {"rt": "1234"}, "RT harus 3 angka"),
    ("desa_kode", {"desa_kode": "6109042006"}, "61.09.04.2006"),
    ("hobi", {"hobi": "MEMANCING"}, "Kolom tidak dikenal"),
]


@pytest.mark.parametrize(("field", "change", "expected"), BAD_PAYLOADS)
def test_bad_card_data_is_refused_per_field_and_nothing_is_saved(
    field_client: FieldClient, files: dict[str, Path], field: str, change: dict[str, Any],
    expected: str,
) -> None:
    with pytest.raises(CaptureInvalid) as caught:
        field_client.enroll(payload(**change), "op.a", files=files, data_key=DK)
    assert expected in " ".join(caught.value.fields[field])
    assert_nothing_saved(field_client)


def test_missing_field_is_refused(field_client: FieldClient, files: dict[str, Path]) -> None:
    data = payload()
    del data["pekerjaan"]
    with pytest.raises(CaptureInvalid) as caught:
        field_client.enroll(data, "op.a", files=files, data_key=DK)
    assert caught.value.fields == {"pekerjaan": ["Wajib diisi."]}
    assert_nothing_saved(field_client)


def test_all_problems_are_reported_at_once(field_client: FieldClient, tmp_path: Path) -> None:
    scans = biometric_files(tmp_path / "scans", skip=["finger_l_little", "finger_r_index"])
    with pytest.raises(CaptureInvalid) as caught:
        field_client.enroll(
            payload(nik="123", agama="X"),
            "",
            files={**scans, "photo": tmp_path / "missing.jpg"},
            exceptions={"finger_l_little": "lost"}, data_key=DK
        )
    assert set(caught.value.fields) == {
        "nik",
        "agama",
        "operator",
        "file.photo",
        "exception.finger_l_little",
        "biometrics",
        "biometrics.finger_r_index",
    }
    assert_nothing_saved(field_client)


def test_operator_is_required_and_checked(
    field_client: FieldClient, files: dict[str, Path]
) -> None:
    with pytest.raises(CaptureInvalid) as caught:
        field_client.enroll(payload(), None, files=files, data_key=DK)
    assert "operator" in caught.value.fields
    with pytest.raises(CaptureInvalid) as caught:
        field_client.enroll(payload(), "op suryadi!", files=files, data_key=DK)
    assert "tidak diizinkan" in caught.value.fields["operator"][0]
    assert_nothing_saved(field_client)


def test_payload_must_be_an_object(field_client: FieldClient) -> None:
    with pytest.raises(CaptureInvalid) as caught:
        field_client.enroll(["not", "a", "dict"], "op.a", data_key=DK)  # type: ignore[arg-type]
    assert "payload" in caught.value.fields


@pytest.mark.parametrize(
    ("role", "name", "size", "expected"),
    [
        ("thumb", "a.jpg", 10, "tidak dikenal"),
        ("photo", "missing.jpg", None, "tidak ditemukan"),
        ("photo", "empty.jpg", 0, "kosong"),
        ("photo", "photo.gif", 10, "tidak didukung"),
        ("photo", "photo", 10, "tidak didukung"),
    ],
)
def test_bad_biometric_file_is_refused_and_no_file_is_left(
    field_client: FieldClient, tmp_path: Path, role: str, name: str, size: int | None, expected: str
) -> None:
    path = tmp_path / "in" / name
    if size is not None:
        write_file(path, size)
    with pytest.raises(CaptureInvalid) as caught:
        field_client.enroll(payload(), "op.a", files={role: path}, data_key=DK)
    assert expected in " ".join(caught.value.fields[f"file.{role}"])
    assert_nothing_saved(field_client)


def test_oversized_file_is_refused(field_client: FieldClient, tmp_path: Path) -> None:
    path = tmp_path / "big.jpg"
    with path.open("wb") as out:
        out.truncate(MAX_ATTACHMENT_BYTES + 1)  # sparse: no real 20 MB written
    with pytest.raises(CaptureInvalid) as caught:
        field_client.enroll(payload(), "op.a", files={"photo": path}, data_key=DK)
    assert "lebih besar" in caught.value.fields["file.photo"][0]
    assert_nothing_saved(field_client)


@pytest.mark.parametrize(
    ("exceptions", "key", "expected"),
    [
        ({"finger_l_little": "lost"}, "exception.finger_l_little", "Alasan 'lost'"),
        ({"photo": "amputated"}, "exception.photo", "tidak dapat dikecualikan"),
    ],
)
def test_bad_exception_is_refused(
    field_client: FieldClient, exceptions: dict[str, str], key: str, expected: str
) -> None:
    with pytest.raises(CaptureInvalid) as caught:
        field_client.enroll(payload(), "op.a", exceptions=exceptions, data_key=DK)
    assert expected in caught.value.fields[key][0]
    assert_nothing_saved(field_client)


def test_file_and_exception_for_the_same_role_is_refused(
    field_client: FieldClient, files: dict[str, Path]
) -> None:
    with pytest.raises(CaptureInvalid) as caught:
        field_client.enroll(
            payload(), "op.a", files=files, exceptions={"finger_r_thumb": "injured"}, data_key=DK
        )
    assert list(caught.value.fields) == ["exception.finger_r_thumb"]
    [message] = caught.value.fields["exception.finger_r_thumb"]
    assert "berkas dan juga pengecualian" in message
    assert "--file finger_r_thumb=PATH" in message
    assert "--exception finger_r_thumb=ALASAN" in message
    assert_nothing_saved(field_client)


def test_supersedes_must_be_a_uuid(field_client: FieldClient, files: dict[str, Path]) -> None:
    with pytest.raises(CaptureInvalid) as caught:
        field_client.enroll(payload(), "op.a", files=files, supersedes="record-7", data_key=DK)
    assert "supersedes" in caught.value.fields
    first = field_client.enroll(payload(), "op.a", files=files, data_key=DK)
    fixed = field_client.enroll(
        payload(golongan_darah="A"), "op.a", files=files, supersedes=first.id, data_key=DK
    )
    assert stored_record(field_client, fixed.id)["supersedes"] == first.id
    assert fixed.warnings == []  # a correction of the same NIK is expected, not suspicious


def assert_nothing_saved(client: FieldClient) -> None:
    assert client.status()["total"] == 0
    assert client.outbox.get_meta("next_seq") == "1"
    files_dir = client.settings.files_dir
    assert not files_dir.exists() or list(files_dir.iterdir()) == []


# -- coverage: a file or an explicit exception for every biometric ---------------------------


def snapshot(client: FieldClient) -> tuple[int, str | None, list[str]]:
    """Records, next seq and stored files: what a refused capture must leave unchanged."""
    files_dir = client.settings.files_dir
    stored = sorted(p.name for p in files_dir.iterdir()) if files_dir.exists() else []
    return client.status()["total"], client.outbox.get_meta("next_seq"), stored


def test_one_finger_missing_is_refused_naming_it_and_the_options(
    field_client: FieldClient, tmp_path: Path
) -> None:
    field_client.enroll(person(1), "op.a", files=biometric_files(tmp_path / "first", seed=1),
                        data_key=DK)
    before = snapshot(field_client)
    scans = biometric_files(tmp_path / "scans", skip=["finger_l_ring"])
    with pytest.raises(CaptureInvalid) as caught:
        field_client.enroll(person(2), "op.a", files=scans, data_key=DK)
    fields = caught.value.fields
    assert list(fields) == ["biometrics", "biometrics.finger_l_ring"]
    [message] = fields["biometrics.finger_l_ring"]
    assert message == (
        "Jari manis kiri belum direkam: --file finger_l_ring=PATH, atau bila tidak dapat "
        "direkam --exception finger_l_ring=ALASAN."
    )
    [summary] = fields["biometrics"]
    assert summary.startswith("1 biometrik belum punya berkas maupun pengecualian.")
    assert "amputated (diamputasi)" in summary and "other (lainnya)" in summary
    assert snapshot(field_client) == before  # not even the 13 good files were kept


def test_every_missing_role_is_listed_at_once(field_client: FieldClient) -> None:
    with pytest.raises(CaptureInvalid) as caught:
        field_client.enroll(payload(), "op.a", data_key=DK)
    assert list(caught.value.fields) == [
        "biometrics", *(f"biometrics.{role}" for role in BIOMETRIC_ROLES)
    ]
    assert caught.value.fields["biometrics"][0].startswith("14 biometrik belum")
    assert_nothing_saved(field_client)


@pytest.mark.parametrize(
    ("role", "reason"),
    [
        ("finger_r_thumb", "amputated"),
        ("iris_right", "injured"),
        ("finger_l_index", "bandaged"),
        ("signature", "congenital"),  # no hands: neither a signature nor a thumbprint mark
    ],
)
def test_an_explained_exception_is_saved_with_the_record(
    field_client: FieldClient, tmp_path: Path, role: str, reason: str
) -> None:
    scans = biometric_files(tmp_path / "scans", skip=[role])
    saved = field_client.enroll(payload(), "op.a", files=scans, exceptions={role: reason},
                                data_key=DK)
    record = stored_record(field_client, saved.id)
    RecordSchema().load(record)
    assert record["exceptions"] == [{"role": role, "reason": reason}]
    assert role not in {a["role"] for a in record["attachments"]}
    assert len(record["attachments"]) == len(BIOMETRIC_ROLES) - 1
    assert len(list(field_client.settings.files_dir.iterdir())) == len(BIOMETRIC_ROLES) - 1


def test_several_exceptions_cover_the_missing_roles(
    field_client: FieldClient, tmp_path: Path
) -> None:
    both_hands = [role for role in BIOMETRIC_ROLES if role.startswith("finger_")]
    scans = biometric_files(tmp_path / "scans", skip=[*both_hands, "signature"])
    exceptions = dict.fromkeys([*both_hands, "signature"], "amputated")
    saved = field_client.enroll(payload(), "op.a", files=scans, exceptions=exceptions, data_key=DK)
    record = stored_record(field_client, saved.id)
    assert [a["role"] for a in record["attachments"]] == ["photo", "iris_left", "iris_right"]
    assert len(record["exceptions"]) == 11


def test_missing_signature_says_a_thumbprint_can_stand_in(
    field_client: FieldClient, tmp_path: Path
) -> None:
    with pytest.raises(CaptureInvalid) as caught:
        field_client.enroll(
            payload(), "op.a", files=biometric_files(tmp_path / "scans", skip=["signature"]),
            data_key=DK,
        )
    [message] = caught.value.fields["biometrics.signature"]
    assert "--file signature=PATH" in message and "--exception signature=ALASAN" in message
    assert "cap jempol" in message
    assert_nothing_saved(field_client)


def test_photo_is_required_and_cannot_be_excepted(
    field_client: FieldClient, tmp_path: Path
) -> None:
    scans = biometric_files(tmp_path / "scans", skip=["photo"])
    with pytest.raises(CaptureInvalid) as caught:
        field_client.enroll(payload(), "op.a", files=scans, data_key=DK)
    assert list(caught.value.fields) == ["biometrics", "biometrics.photo"]
    assert caught.value.fields["biometrics.photo"] == [
        "Foto wajah wajib ada: --file photo=PATH. Foto tidak dapat dikecualikan."
    ]
    assert "ALASAN" not in caught.value.fields["biometrics"][0]  # no exception can help here
    with pytest.raises(CaptureInvalid) as caught:
        field_client.enroll(payload(), "op.a", files=scans, exceptions={"photo": "injured"},
                            data_key=DK)
    assert "tidak dapat dikecualikan" in caught.value.fields["exception.photo"][0]
    assert "biometrics.photo" in caught.value.fields
    assert_nothing_saved(field_client)


@pytest.mark.parametrize(
    ("role", "name", "allowed"),
    [
        ("photo", "face.wsq", ".jpg, .jpeg, .png, .jp2"),
        ("signature", "sign.jp2", ".jpg, .jpeg, .png"),
        ("signature", "sign.wsq", ".jpg, .jpeg, .png"),
        ("iris_left", "eye.wsq", ".jpg, .jpeg, .png, .jp2"),
        ("finger_r_thumb", "thumb.jp2", ".jpg, .jpeg, .png, .wsq"),
    ],
)
def test_a_file_type_the_role_does_not_take_is_refused(
    field_client: FieldClient, tmp_path: Path, files: dict[str, Path], role: str, name: str,
    allowed: str,
) -> None:
    wrong = write_file(tmp_path / "in" / name, 5000)
    with pytest.raises(CaptureInvalid) as caught:
        field_client.enroll(payload(), "op.a", files={**files, role: wrong}, data_key=DK)
    assert list(caught.value.fields) == [f"file.{role}"]
    [message] = caught.value.fields[f"file.{role}"]
    assert "tidak sesuai untuk" in message and role in message
    assert message.endswith(f"yang boleh: {allowed}.")
    assert_nothing_saved(field_client)


@pytest.mark.parametrize(
    ("role", "name", "media_type"),
    [
        ("photo", "face.jp2", "image/jp2"),
        ("photo", "face.png", "image/png"),
        ("signature", "sign.jpeg", "image/jpeg"),
        ("iris_left", "eye.png", "image/png"),
        ("iris_right", "eye.jpg", "image/jpeg"),
        ("finger_l_little", "little.png", "image/png"),
        ("finger_l_thumb", "thumb.JPG", "image/jpeg"),
    ],
)
def test_every_file_type_the_role_takes_is_saved(
    field_client: FieldClient, tmp_path: Path, files: dict[str, Path], role: str, name: str,
    media_type: str,
) -> None:
    other = write_file(tmp_path / "in" / name, 5000, seed=9)
    saved = field_client.enroll(payload(), "op.a", files={**files, role: other}, data_key=DK)
    [attachment] = [
        a for a in stored_record(field_client, saved.id)["attachments"] if a["role"] == role
    ]
    assert attachment["media_type"] == media_type


@pytest.mark.parametrize(
    ("role", "name", "size", "expected"),
    [
        ("finger_r_index", "index.wsq", 0, "kosong (0 byte)"),
        ("finger_r_index", "index.wsq", 700, "terlalu kecil untuk telunjuk kanan (700 byte"),
        ("iris_right", "eye.jp2", 300, "terlalu kecil untuk iris kanan"),
        ("signature", "sign.png", 100, "terlalu kecil untuk tanda tangan"),
        ("photo", "face.jpg", 1500, "terlalu kecil untuk foto wajah"),
        ("finger_r_index", "index.wsq", 3 * 1024 * 1024, "lebih besar dari 2 MB"),
        ("iris_left", "eye.png", 2 * 1024 * 1024 + 1, "lebih besar dari 2 MB"),
        ("photo", "face.jpg", 10 * 1024 * 1024 + 1, "lebih besar dari 10 MB"),
    ],
)
def test_an_empty_tiny_or_huge_file_is_refused(
    field_client: FieldClient, tmp_path: Path, files: dict[str, Path], role: str, name: str,
    size: int, expected: str,
) -> None:
    path = tmp_path / "in" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as out:
        out.truncate(size)  # sparse: nothing big is really written
    with pytest.raises(CaptureInvalid) as caught:
        field_client.enroll(payload(), "op.a", files={**files, role: path}, data_key=DK)
    assert list(caught.value.fields) == [f"file.{role}"]
    assert expected in caught.value.fields[f"file.{role}"][0]
    assert str(path) in caught.value.fields[f"file.{role}"][0]
    assert_nothing_saved(field_client)


def test_the_smallest_and_largest_plausible_files_are_saved(
    field_client: FieldClient, tmp_path: Path, files: dict[str, Path]
) -> None:
    smallest = write_file(tmp_path / "in" / "index.wsq", 1024, seed=3)
    largest = tmp_path / "in" / "face.jpg"
    with largest.open("wb") as out:
        out.truncate(10 * 1024 * 1024)
    saved = field_client.enroll(
        payload(), "op.a", files={**files, "finger_r_index": smallest, "photo": largest},
        data_key=DK,
    )
    sizes = {a["role"]: a["size"] for a in stored_record(field_client, saved.id)["attachments"]}
    assert (sizes["finger_r_index"], sizes["photo"]) == (1024, 10 * 1024 * 1024)
