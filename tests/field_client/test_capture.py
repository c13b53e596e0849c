"""Capture: a valid record is sealed and saved durably; every bad input is refused clearly."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from field_client import records
from field_client.client import FieldClient
from field_client.errors import CaptureInvalid
from shared.canonical import canonical_json, record_sha256, sha256_file
from shared.schemas import RecordSchema
from shared.vocab import MAX_ATTACHMENT_BYTES
from tests.field_client.helpers import payload, person, write_file


def stored_record(client: FieldClient, record_id: str) -> dict[str, Any]:
    body = records.body_of(client.outbox, record_id)
    assert body is not None
    return dict(json.loads(body))


def test_valid_capture_is_sealed_and_queued(field_client: FieldClient, tmp_path: Path) -> None:
    photo = write_file(tmp_path / "in" / "photo.JPG", 3000)
    finger = write_file(tmp_path / "in" / "r_thumb.wsq", 1500, seed=2)
    saved = field_client.enroll(
        payload(),
        "op.suryadi",
        files={"photo": photo, "finger_r_thumb": finger},
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
    assert {a["media_type"] for a in record["attachments"]} == {"image/jpeg", "image/x-wsq"}
    copied = field_client.settings.files_dir / photo_sha
    assert copied.read_bytes() == photo.read_bytes()
    assert field_client.status()["counts"]["ready"] == 1
    assert len(field_client.outbox.rows("SELECT * FROM file WHERE record_id = ?", (saved.id,))) == 2


def test_stored_body_is_canonical_and_stable_across_reopen(field_client: FieldClient) -> None:
    saved = field_client.enroll(payload(), "op.a")
    body = records.body_of(field_client.outbox, saved.id)
    assert body is not None
    assert body.encode() == canonical_json(json.loads(body))
    field_client.close()
    with FieldClient(settings=field_client.settings) as again:
        assert records.body_of(again.outbox, saved.id) == body
        assert record_sha256(json.loads(body)) == saved.record_sha256


def test_operator_input_is_normalised(field_client: FieldClient) -> None:
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
    saved = field_client.enroll(messy, "op.a")
    assert stored_record(field_client, saved.id)["payload"] == payload()


def test_same_card_typed_differently_gives_the_same_payload(field_client: FieldClient) -> None:
    one = field_client.enroll(payload(nama="maria goretti", rt="1"), "op.a")
    two = field_client.enroll(payload(), "op.a")
    assert (
        stored_record(field_client, one.id)["payload"]
        == stored_record(field_client, two.id)["payload"]
    )


def test_nik_disagreement_is_a_warning_not_a_refusal(field_client: FieldClient) -> None:
    saved = field_client.enroll(payload(jenis_kelamin="LAKI-LAKI"), "op.a")
    assert [w["code"] for w in saved.warnings] == ["nik_sex_mismatch"]
    later = field_client.enroll(payload(tanggal_lahir="1990-08-18"), "op.a")
    codes = [w["code"] for w in later.warnings]
    assert "nik_birth_date_mismatch" in codes and "nik_already_recorded" in codes
    assert field_client.status()["ready"] == 2


def test_same_file_is_stored_once(field_client: FieldClient, tmp_path: Path) -> None:
    photo = write_file(tmp_path / "photo.jpg")
    copy = write_file(tmp_path / "other-name.jpeg")
    field_client.enroll(person(1), "op.a", files={"photo": photo})
    field_client.enroll(person(2), "op.a", files={"photo": copy})
    assert len(list(field_client.settings.files_dir.iterdir())) == 1


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
    field_client: FieldClient, field: str, change: dict[str, Any], expected: str
) -> None:
    with pytest.raises(CaptureInvalid) as caught:
        field_client.enroll(payload(**change), "op.a")
    assert expected in " ".join(caught.value.fields[field])
    assert_nothing_saved(field_client)


def test_missing_field_is_refused(field_client: FieldClient) -> None:
    data = payload()
    del data["pekerjaan"]
    with pytest.raises(CaptureInvalid) as caught:
        field_client.enroll(data, "op.a")
    assert caught.value.fields == {"pekerjaan": ["Wajib diisi."]}
    assert_nothing_saved(field_client)


def test_all_problems_are_reported_at_once(field_client: FieldClient, tmp_path: Path) -> None:
    with pytest.raises(CaptureInvalid) as caught:
        field_client.enroll(
            payload(nik="123", agama="X"),
            "",
            files={"photo": tmp_path / "missing.jpg"},
            exceptions={"finger_l_little": "lost"},
        )
    assert set(caught.value.fields) == {
        "nik",
        "agama",
        "operator",
        "file.photo",
        "exception.finger_l_little",
    }
    assert_nothing_saved(field_client)


def test_operator_is_required_and_checked(field_client: FieldClient) -> None:
    with pytest.raises(CaptureInvalid) as caught:
        field_client.enroll(payload(), None)
    assert "operator" in caught.value.fields
    with pytest.raises(CaptureInvalid) as caught:
        field_client.enroll(payload(), "op suryadi!")
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
    field_client: FieldClient, tmp_path: Path
) -> None:
    finger = write_file(tmp_path / "thumb.wsq")
    with pytest.raises(CaptureInvalid) as caught:
        field_client.enroll(
            payload(),
            "op.a",
            files={"finger_r_thumb": finger},
            exceptions={"finger_r_thumb": "injured"},
        )
    assert "exceptions" in caught.value.fields
    assert_nothing_saved(field_client)


def test_supersedes_must_be_a_uuid(field_client: FieldClient) -> None:
    with pytest.raises(CaptureInvalid) as caught:
        field_client.enroll(payload(), "op.a", supersedes="record-7")
    assert "supersedes" in caught.value.fields
    first = field_client.enroll(payload(), "op.a")
    fixed = field_client.enroll(payload(golongan_darah="A"), "op.a", supersedes=first.id)
    assert stored_record(field_client, fixed.id)["supersedes"] == first.id
    assert fixed.warnings == []  # a correction of the same NIK is expected, not suspicious


def assert_nothing_saved(client: FieldClient) -> None:
    assert client.status()["total"] == 0
    assert client.outbox.get_meta("next_seq") == "1"
    files_dir = client.settings.files_dir
    assert not files_dir.exists() or list(files_dir.iterdir()) == []
