"""The fix loop, end to end: a real server process and the real ``jemput-field`` CLI.

The field team records a resident and syncs; the checks open a case (the resident is not in the
registry); a reviewer resolves it as needs_fix with a reason (``review.resolve_case``, as the
office UI does); the client pulls and shows the reason, the operator fixes the record and syncs;
the server keeps both versions with the link and the old one superseded, and the client mirrors
that.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tests.support.field import biometric_files
from tests.support.jobs import wait_for_jobs
from tests.support.payloads import payload
from tests.support.processes import FieldCLI, ServerProcess, register

pytestmark = pytest.mark.e2e
REASON = "Nama tidak sesuai KK: tulis MARIA GORETI."


def query(server: ServerProcess, sql: str, *params: object) -> list[tuple[object, ...]]:
    """Rows from the server's SQLite database (read-only, while the server runs)."""
    with sqlite3.connect(f"file:{server.instance / 'jemput.db'}?mode=ro", uri=True) as conn:
        return conn.execute(sql, params).fetchall()


def send_back(server: ServerProcess, record_id: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """As a reviewer: resolve the record's open case (the checks found it is not in the empty
    population registry) with ``needs_fix`` and a reason, through the review workflow."""
    from server import create_app
    from server.accounts.actor import Actor
    from server.core.extensions import dispose_engines
    from server.review.decisions import resolve_case

    wait_for_jobs(server.instance)  # the checks run in the server's job thread
    [(state,)] = query(server, "SELECT state FROM enrollment WHERE id = ?", record_id)
    assert state == "needs_review"
    [(case_id, version)] = query(
        server,
        'SELECT c.id, c.version FROM "case" c JOIN case_record r ON r.case_id = c.id '
        "WHERE r.enrollment_id = ? AND c.state = 'open'",
        record_id,
    )
    monkeypatch.setenv("JEMPUT_INSTANCE_PATH", str(server.instance))
    for name in ("JEMPUT_DATABASE_URL", "JEMPUT_BLOB_DIR", "JEMPUT_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    app = create_app()
    with app.app_context():
        resolve_case(
            int(str(case_id)),
            actor=Actor("reviewer", "reviewer"),
            action="needs_fix",
            version=int(str(version)),
            reason=REASON,
        )
    dispose_engines(app)
    [(state,)] = query(server, "SELECT state FROM enrollment WHERE id = ?", record_id)
    assert state == "needs_fix"


def records(field: FieldCLI, *args: str) -> list[dict[str, object]]:
    done = field.run("records", "--json", *args)
    assert done.returncode == 0, done.stderr
    return list(json.loads(done.stdout))


def test_needs_fix_goes_to_the_field_and_the_fix_supersedes_it(
    server: ServerProcess, field: FieldCLI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    register(field, server, server.url)
    card = tmp_path / "card.json"
    card.write_text(json.dumps(payload(nama="MARIA GORETTI")))
    files = biometric_files(tmp_path / "scans")
    options = [arg for role, path in files.items() for arg in ("--file", f"{role}={path}")]
    done = field.run("enroll", "--json", str(card), "--operator", "op.e2e", *options)
    assert done.returncode == 0, done.stdout + done.stderr
    done = field.run("sync")
    assert done.returncode == 0, done.stdout + done.stderr
    [old] = records(field)
    assert old["state"] == "complete"

    send_back(server, str(old["id"]), monkeypatch)
    done = field.run("sync")
    assert done.returncode == 0 and "Status baru dari server: 1." in done.stdout
    assert "1 rekaman dikembalikan kantor untuk diperbaiki" in done.stdout
    # The office's reason rests under the data key: without the PIN it is not shown ...
    done = field.run("records", "--state", "needs_fix")
    assert done.returncode == 0 and "perlu perbaikan" in done.stdout
    assert REASON not in done.stdout and "--details" in done.stdout
    # ... and with it (``--details`` asks for the operator's PIN), it is.
    done = field.run("records", "--state", "needs_fix", "--details")
    assert done.returncode == 0 and f"alasan kantor: {REASON}" in done.stdout, done.stderr

    done = field.run("fix", str(old["seq"]), "--set", "nama=Maria Goreti")
    assert done.returncode == 0, done.stdout + done.stderr
    [fixed] = records(field, "--state", "superseded")
    [new] = records(field, "--state", "ready")
    assert fixed["id"] == old["id"] and new["supersedes"] == old["id"]
    assert fixed["superseded_by"] == new["id"]

    done = field.run("sync")
    assert done.returncode == 0, done.stdout + done.stderr
    rows = query(server, "SELECT id, state, supersedes, payload FROM enrollment ORDER BY seq")
    assert [(r[0], r[2], json.loads(str(r[3]))["nama"]) for r in rows] == [
        (old["id"], None, "MARIA GORETTI"),
        (new["id"], old["id"], "MARIA GORETI"),
    ]
    assert rows[0][1] == "superseded"  # the server moved the old version on arrival
    assert rows[1][1] != "needs_fix"
    by_id = {r["id"]: r for r in records(field)}
    assert by_id[old["id"]]["state"] == "superseded"
    assert by_id[old["id"]]["server_state"] == "superseded"  # mirrored from the feed
    assert by_id[new["id"]]["state"] == "complete"

    # A second fix of the same record: a clear refusal, nothing written.
    before = records(field)
    done = field.run("fix", str(old["seq"]), "--set", "nama=MARIA G")
    assert done.returncode == 1 and "sudah diperbaiki oleh rekaman seq 2" in done.stderr
    assert records(field) == before
