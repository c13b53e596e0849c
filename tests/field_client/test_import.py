"""JSONL import: per-line semantics; a bad line is reported and never half-written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from field_client import importer
from field_client.client import FieldClient
from field_client.errors import StorageError, UsageInvalid
from tests.field_client.helpers import payload, person, write_file


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_mix_of_good_and_bad_lines(field_client: FieldClient, tmp_path: Path) -> None:
    write_file(tmp_path / "bio" / "p1.jpg", 500)
    lines = [
        json.dumps({"operator": "op.a", "payload": person(1), "files": {"photo": "bio/p1.jpg"}}),
        json.dumps(person(2)),  # a bare payload: the default operator applies
        "{not json",
        json.dumps({"payload": person(4, nik="123")}),
        "",
        json.dumps([1, 2]),
        json.dumps({"payload": person(7), "colour": "red"}),
        json.dumps({"payload": person(8), "files": {"photo": "bio/missing.jpg"}}),
        json.dumps(
            {"operator": "op.b", "payload": person(9), "exceptions": {"iris_left": "other"}}
        ),
    ]
    report = field_client.import_jsonl(write_lines(tmp_path / "in.jsonl", lines), "op.default")
    assert [item.line for item in report.saved] == [1, 2, 9]
    assert [error.line for error in report.errors] == [3, 4, 6, 7, 8]
    by_line = {error.line: error for error in report.errors}
    assert "bukan JSON" in by_line[3].message
    assert "nik" in by_line[4].fields
    assert "objek JSON" in by_line[6].message
    assert "colour" in by_line[7].message
    assert "file.photo" in by_line[8].fields
    assert not report.ok
    rows = field_client.records()
    assert [(r["seq"], r["operator"]) for r in rows] == [
        (1, "op.a"),
        (2, "op.default"),
        (3, "op.b"),
    ]
    assert rows[0]["files"] == 1
    assert len(list(field_client.settings.files_dir.iterdir())) == 1


def test_lines_without_operator_need_a_default(field_client: FieldClient, tmp_path: Path) -> None:
    path = write_lines(tmp_path / "in.jsonl", [json.dumps({"payload": payload()})])
    report = field_client.import_jsonl(path)
    assert report.saved == []
    assert "operator" in report.errors[0].fields
    assert field_client.status()["total"] == 0


def test_large_import_is_chunked_and_keeps_order(
    field_client: FieldClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(importer, "CHUNK", 7)
    lines = [json.dumps({"operator": "op.a", "payload": person(i)}) for i in range(1, 31)]
    report = field_client.import_jsonl(write_lines(tmp_path / "in.jsonl", lines))
    assert report.ok and len(report.saved) == 30
    assert [r["seq"] for r in field_client.records()] == list(range(1, 31))
    assert [r["nik"] for r in field_client.records()] == [person(i)["nik"] for i in range(1, 31)]


def test_disk_full_mid_import_keeps_committed_chunks(
    field_client: FieldClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(importer, "CHUNK", 5)
    lines = [json.dumps({"operator": "op.a", "payload": person(i)}) for i in range(1, 400)]
    path = write_lines(tmp_path / "in.jsonl", lines)
    field_client.enroll(person(999), "op.a")
    outbox = field_client.outbox
    outbox.execute(f"PRAGMA max_page_count = {outbox.scalar('PRAGMA page_count') + 2}")
    with pytest.raises(StorageError) as caught:
        field_client.import_jsonl(path)
    assert "sudah tersimpan" in caught.value.message
    outbox.execute("PRAGMA max_page_count = 1073741823")
    total = field_client.status()["total"]
    assert 1 <= total < 400
    assert (total - 1) % 5 == 0  # whole chunks only: no half-written chunk
    seqs = [r["seq"] for r in field_client.records()]
    assert seqs == list(range(1, total + 1))


def test_unreadable_import_file_is_a_clear_error(field_client: FieldClient, tmp_path: Path) -> None:
    with pytest.raises(UsageInvalid) as caught:
        field_client.import_jsonl(tmp_path / "nope.jsonl", "op.a")
    assert "nope.jsonl" in caught.value.message
