"""JSONL import: per-line semantics; a bad line is reported and never half-written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from field_client.capture import importer
from field_client.client import FieldClient
from field_client.errors import StorageError, UsageInvalid
from shared.vocab import BIOMETRIC_ROLES
from tests.support.field import biometric_files, opened, person, write_file
from tests.support.keys import DATA_KEY as DK
from tests.support.payloads import payload


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def scans(base: Path, seed: int = 0, skip: tuple[str, ...] = ()) -> dict[str, str]:
    """A complete recording's files under ``base/bio``, as JSONL paths relative to ``base``."""
    written = biometric_files(base / "bio", seed=seed, skip=skip)
    return {role: str(path.relative_to(base)) for role, path in written.items()}


def line(**item: object) -> str:
    return json.dumps(item)


def test_mix_of_good_and_bad_lines(field_client: FieldClient, tmp_path: Path) -> None:
    files = scans(tmp_path)
    write_file(tmp_path / "bio" / "thumb.jp2", 5000)
    lines = [
        line(operator="op.a", payload=person(1), files=files),
        line(payload=person(2), files=files),  # no operator: the default applies
        "{not json",
        line(payload=person(4, nik="123"), files=files),
        "",
        json.dumps([1, 2]),
        line(payload=person(7), files=files, colour="red"),
        line(payload=person(8), files={**files, "photo": "bio/missing.jpg"}),
        line(
            operator="op.b",
            payload=person(9),
            files=scans(tmp_path, skip=("iris_left",)),
            exceptions={"iris_left": "other"},
        ),
        json.dumps(person(10)),  # a bare payload names no file: never a complete recording
        line(payload=person(11), files=scans(tmp_path, skip=("finger_r_ring",))),
        line(payload=person(12), files=files, exceptions={"finger_r_ring": "injured"}),
        line(payload=person(13), files={**files, "finger_l_thumb": "bio/thumb.jp2"}),
    ]
    report = field_client.import_jsonl(write_lines(tmp_path / "in.jsonl", lines), "op.default",
                                       data_key=DK)
    assert [item.line for item in report.saved] == [1, 2, 9]
    assert [error.line for error in report.errors] == [3, 4, 6, 7, 8, 10, 11, 12, 13]
    by_line = {error.line: error for error in report.errors}
    assert "bukan JSON" in by_line[3].message
    assert "nik" in by_line[4].fields
    assert "objek JSON" in by_line[6].message
    assert "colour" in by_line[7].message
    assert "file.photo" in by_line[8].fields
    assert set(by_line[10].fields) == {
        "biometrics", *(f"biometrics.{role}" for role in BIOMETRIC_ROLES)
    }
    assert list(by_line[11].fields) == ["biometrics", "biometrics.finger_r_ring"]
    assert by_line[11].fields["biometrics.finger_r_ring"] == [
        'Jari manis kanan belum direkam: "files": {"finger_r_ring": "PATH"}, atau bila tidak '
        'dapat direkam "exceptions": {"finger_r_ring": "ALASAN"}.'
    ]
    assert "--file" not in " ".join(by_line[11].lines())  # the JSONL's words, not the CLI's
    assert list(by_line[12].fields) == ["exception.finger_r_ring"]
    assert "tidak sesuai untuk ibu jari kiri" in by_line[13].fields["file.finger_l_thumb"][0]
    assert not report.ok
    rows = field_client.records(data_key=DK)
    assert [(r["seq"], r["operator"]) for r in rows] == [
        (1, "op.a"),
        (2, "op.default"),
        (3, "op.b"),
    ]
    assert [r["files"] for r in rows] == [14, 14, 13]
    assert len(list(field_client.settings.files_dir.iterdir())) == len(BIOMETRIC_ROLES)


def test_lines_without_operator_need_a_default(field_client: FieldClient, tmp_path: Path) -> None:
    path = write_lines(tmp_path / "in.jsonl", [line(payload=payload(), files=scans(tmp_path))])
    report = field_client.import_jsonl(path, data_key=DK)
    assert report.saved == []
    assert list(report.errors[0].fields) == ["operator"]
    assert field_client.status()["total"] == 0


def test_large_import_is_chunked_and_keeps_order(
    field_client: FieldClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(importer, "CHUNK", 7)
    files = scans(tmp_path)
    lines = [line(operator="op.a", payload=person(i), files=files) for i in range(1, 31)]
    report = field_client.import_jsonl(write_lines(tmp_path / "in.jsonl", lines), data_key=DK)
    assert report.ok and len(report.saved) == 30
    assert [r["seq"] for r in field_client.records()] == list(range(1, 31))
    assert [opened(field_client, r["id"])["payload"]["nik"] for r in field_client.records()] \
        == [person(i)["nik"] for i in range(1, 31)]


def test_disk_full_mid_import_keeps_committed_chunks(
    field_client: FieldClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(importer, "CHUNK", 5)
    files = scans(tmp_path)
    lines = [line(operator="op.a", payload=person(i), files=files) for i in range(1, 400)]
    path = write_lines(tmp_path / "in.jsonl", lines)
    field_client.enroll(person(999), "op.a", files=biometric_files(tmp_path / "own"), data_key=DK)
    outbox = field_client.outbox
    outbox.execute(f"PRAGMA max_page_count = {outbox.scalar('PRAGMA page_count') + 2}")
    with pytest.raises(StorageError) as caught:
        field_client.import_jsonl(path, data_key=DK)
    assert "sudah tersimpan" in caught.value.message
    outbox.execute("PRAGMA max_page_count = 1073741823")
    total = field_client.status()["total"]
    assert 1 <= total < 400
    assert (total - 1) % 5 == 0  # whole chunks only: no half-written chunk
    seqs = [r["seq"] for r in field_client.records()]
    assert seqs == list(range(1, total + 1))


def test_unreadable_import_file_is_a_clear_error(field_client: FieldClient, tmp_path: Path) -> None:
    with pytest.raises(UsageInvalid) as caught:
        field_client.import_jsonl(tmp_path / "nope.jsonl", "op.a", data_key=DK)
    assert "nope.jsonl" in caught.value.message
