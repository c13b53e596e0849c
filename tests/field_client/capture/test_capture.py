"""Capture: a valid record is sealed and saved durably; every bad input is refused clearly."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from field_client.client import FieldClient
from field_client.errors import CaptureInvalid
from field_client.store import records
from shared.canonical import canonical_json, record_sha256, sha256_file
from shared.schemas import RecordSchema
from shared.vocab import BIOMETRIC_ROLES, MAX_ATTACHMENT_BYTES
from tests.support.field import biometric_files, person, write_file
from tests.support.payloads import payload


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    """A complete recording's 14 files."""
    return biometric_files(tmp_path / "scans")


def stored_record(client: FieldClient, record_id: str) -> dict[str, Any]:
    body = records.body_of(client.outbox, record_id)
    assert body is not None
    return dict(json.loads(body))


def test_valid_capture_is_sealed_and_queued(field_client: FieldClient, tmp_path: Path) -> None:
    photo = write_file(tmp_path / "in" / "photo.JPG", 3000)
    finger = write_file(tmp_path / "in" / "r_thumb.wsq", 1500, seed=2)
    scans = biometric_files(tmp_path / "scans", skip=["finger_l_little"])
    saved = field_client.enroll(
        payload(),
        "op.suryadi",
        files={**scans, "photo": photo, "finger_r_thumb": finger},
        exceptions={"finger_l_little": "amputated"},
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
    copied = field_client.settings.files_dir / photo_sha
    assert copied.read_bytes() == photo.read_bytes()
    assert field_client.status()["counts"]["ready"] == 1
    stored = field_client.outbox.rows("SELECT * FROM file WHERE record_id = ?", (saved.id,))
    assert len(stored) == 13


def test_stored_body_is_canonical_and_stable_across_reopen(
    field_client: FieldClient, files: dict[str, Path]
) -> None:
    saved = field_client.enroll(payload(), "op.a", files=files)
    body = records.body_of(field_client.outbox, saved.id)
    assert body is not None
    assert body.encode() == canonical_json(json.loads(body))
    field_client.close()
    with FieldClient(settings=field_client.settings) as again:
        assert records.body_of(again.outbox, saved.id) == body
        assert record_sha256(json.loads(body)) == saved.record_sha256


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
    saved = field_client.enroll(messy, "op.a", files=files)
    assert stored_record(field_client, saved.id)["payload"] == payload()


def test_same_card_typed_differently_gives_the_same_payload(
    field_client: FieldClient, files: dict[str, Path]
) -> None:
    one = field_client.enroll(payload(nama="maria goretti", rt="1"), "op.a", files=files)
    two = field_client.enroll(payload(), "op.a", files=files)
    assert (
        stored_record(field_client, one.id)["payload"]
        == stored_record(field_client, two.id)["payload"]
    )


def test_nik_disagreement_is_a_warning_not_a_refusal(
    field_client: FieldClient, files: dict[str, Path]
) -> None:
    saved = field_client.enroll(payload(jenis_kelamin="LAKI-LAKI"), "op.a", files=files)
    assert [w["code"] for w in saved.warnings] == ["nik_sex_mismatch"]
    later = field_client.enroll(payload(tanggal_lahir="1990-08-18"), "op.a", files=files)
    codes = [w["code"] for w in later.warnings]
    assert "nik_birth_date_mismatch" in codes and "nik_already_recorded" in codes
    assert field_client.status()["ready"] == 2


def test_same_file_is_stored_once(
    field_client: FieldClient, tmp_path: Path, files: dict[str, Path]
) -> None:
    photo = write_file(tmp_path / "photo.jpg")
    copy = write_file(tmp_path / "other-name.jpeg")
    field_client.enroll(person(1), "op.a", files={**files, "photo": photo})
    field_client.enroll(person(2), "op.a", files={**files, "photo": copy})
    assert len(list(field_client.settings.files_dir.iterdir())) == len(BIOMETRIC_ROLES)


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
        field_client.enroll(payload(**change), "op.a", files=files)
    assert expected in " ".join(caught.value.fields[field])
    assert_nothing_saved(field_client)


def test_missing_field_is_refused(field_client: FieldClient, files: dict[str, Path]) -> None:
    data = payload()
    del data["pekerjaan"]
    with pytest.raises(CaptureInvalid) as caught:
        field_client.enroll(data, "op.a", files=files)
    assert caught.value.fields == {"pekerjaan": ["Wajib diisi."]}
    assert_nothing_saved(field_client)


def test_all_problems_are_reported_at_once(field_client: FieldClient, tmp_path: Path) -> None:
    scans = biometric_files(tmp_path / "scans", skip=["finger_l_little", "finger_r_index"])
    with pytest.raises(CaptureInvalid) as caught:
        field_client.enroll(
            payload(nik="123", agama="X"),
            "",
            files={**scans, "photo": tmp_path / "missing.jpg"},
            exceptions={"finger_l_little": "lost"},
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
        field_client.enroll(payload(), None, files=files)
    assert "operator" in caught.value.fields
    with pytest.raises(CaptureInvalid) as caught:
        field_client.enroll(payload(), "op suryadi!", files=files)
    assert "tidak diizinkan" in caught.value.fields["operator"][0]
    assert_nothing_saved(field_client)


def test_payload_must_be_an_object(field_client: FieldClient) -> None:
    with pytest.raises(CaptureInvalid) as caught:
        field_client.enroll(["not", "a", "dict"], "op.a")  # type: ignore[arg-type]
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
        field_client.enroll(payload(), "op.a", files={role: path})
    assert expected in " ".join(caught.value.fields[f"file.{role}"])
    assert_nothing_saved(field_client)


def test_oversized_file_is_refused(field_client: FieldClient, tmp_path: Path) -> None:
    path = tmp_path / "big.jpg"
    with path.open("wb") as out:
        out.truncate(MAX_ATTACHMENT_BYTES + 1)  # sparse: no real 20 MB written
    with pytest.raises(CaptureInvalid) as caught:
        field_client.enroll(payload(), "op.a", files={"photo": path})
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
        field_client.enroll(payload(), "op.a", exceptions=exceptions)
    assert expected in caught.value.fields[key][0]
    assert_nothing_saved(field_client)


def test_file_and_exception_for_the_same_role_is_refused(
    field_client: FieldClient, files: dict[str, Path]
) -> None:
    with pytest.raises(CaptureInvalid) as caught:
        field_client.enroll(
            payload(), "op.a", files=files, exceptions={"finger_r_thumb": "injured"}
        )
    assert list(caught.value.fields) == ["exception.finger_r_thumb"]
    [message] = caught.value.fields["exception.finger_r_thumb"]
    assert "berkas dan juga pengecualian" in message
    assert "--file finger_r_thumb=PATH" in message
    assert "--exception finger_r_thumb=ALASAN" in message
    assert_nothing_saved(field_client)


def test_supersedes_must_be_a_uuid(field_client: FieldClient, files: dict[str, Path]) -> None:
    with pytest.raises(CaptureInvalid) as caught:
        field_client.enroll(payload(), "op.a", files=files, supersedes="record-7")
    assert "supersedes" in caught.value.fields
    first = field_client.enroll(payload(), "op.a", files=files)
    fixed = field_client.enroll(
        payload(golongan_darah="A"), "op.a", files=files, supersedes=first.id
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
    field_client.enroll(person(1), "op.a", files=biometric_files(tmp_path / "first", seed=1))
    before = snapshot(field_client)
    scans = biometric_files(tmp_path / "scans", skip=["finger_l_ring"])
    with pytest.raises(CaptureInvalid) as caught:
        field_client.enroll(person(2), "op.a", files=scans)
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
        field_client.enroll(payload(), "op.a")
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
    saved = field_client.enroll(payload(), "op.a", files=scans, exceptions={role: reason})
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
    saved = field_client.enroll(payload(), "op.a", files=scans, exceptions=exceptions)
    record = stored_record(field_client, saved.id)
    assert [a["role"] for a in record["attachments"]] == ["photo", "iris_left", "iris_right"]
    assert len(record["exceptions"]) == 11


def test_missing_signature_says_a_thumbprint_can_stand_in(
    field_client: FieldClient, tmp_path: Path
) -> None:
    with pytest.raises(CaptureInvalid) as caught:
        field_client.enroll(
            payload(), "op.a", files=biometric_files(tmp_path / "scans", skip=["signature"])
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
        field_client.enroll(payload(), "op.a", files=scans)
    assert list(caught.value.fields) == ["biometrics", "biometrics.photo"]
    assert caught.value.fields["biometrics.photo"] == [
        "Foto wajah wajib ada: --file photo=PATH. Foto tidak dapat dikecualikan."
    ]
    assert "ALASAN" not in caught.value.fields["biometrics"][0]  # no exception can help here
    with pytest.raises(CaptureInvalid) as caught:
        field_client.enroll(payload(), "op.a", files=scans, exceptions={"photo": "injured"})
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
        field_client.enroll(payload(), "op.a", files={**files, role: wrong})
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
    saved = field_client.enroll(payload(), "op.a", files={**files, role: other})
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
        field_client.enroll(payload(), "op.a", files={**files, role: path})
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
        payload(), "op.a", files={**files, "finger_r_index": smallest, "photo": largest}
    )
    sizes = {a["role"]: a["size"] for a in stored_record(field_client, saved.id)["attachments"]}
    assert (sizes["finger_r_index"], sizes["photo"]) == (1024, 10 * 1024 * 1024)
