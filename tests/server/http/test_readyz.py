"""``/readyz``: ready when the database answers, the blob store writes and the data disks have
room; otherwise 503 problem+json naming every failing check, and no path. ``/healthz`` stays a
liveness check (the database only). Both need no token."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from server.core.blobstore import blob_store
from tests.support.server_app import assert_problem, make_app

CHECKS = {"database", "blob_store", "disk"}


def _not_ready(app: Flask, tmp_path: Path) -> dict[str, Any]:
    answer = app.test_client().get("/readyz")
    problem = assert_problem(answer, 503, "service_unavailable")
    assert str(tmp_path) not in answer.get_data(as_text=True)  # no path, no error text
    assert set(problem["errors"]) <= CHECKS
    return problem


def test_a_sound_server_is_ready_and_leaves_no_probe_behind(app: Flask,
                                                              client: FlaskClient) -> None:
    answer = client.get("/readyz")
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.json == {"status": "ready", "checks": dict.fromkeys(CHECKS, "ok")}
    with app.app_context():
        assert list(blob_store().partial_ids()) == []


def test_no_database_is_named_and_the_rest_still_checked(tmp_path: Path) -> None:
    app = make_app(tmp_path, "sqlite:////nonexistent-folder/jemput.db")
    problem = _not_ready(app, tmp_path)
    assert problem["errors"] == {"database": ["tidak menjawab"]}
    assert "database" in problem["detail"]


def test_a_blob_store_that_cannot_write_is_not_ready_but_alive(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the blob folder's parent should be")
    app = make_app(tmp_path / "instance", f"sqlite:///{tmp_path / 'jemput.db'}",
                   JEMPUT_BLOB_DIR=str(blocker / "blobs"))
    problem = _not_ready(app, tmp_path)
    assert problem["errors"] == {"blob_store": ["tidak bisa ditulis"]}
    # Liveness does not look at the disks: the process is up, a restart would not help.
    assert app.test_client().get("/healthz").status_code == 200


def test_too_little_free_disk_is_not_ready(tmp_path: Path) -> None:
    app = make_app(tmp_path, f"sqlite:///{tmp_path / 'jemput.db'}",
                   JEMPUT_MIN_FREE_BYTES=2**62)
    problem = _not_ready(app, tmp_path)
    assert problem["errors"] == {"disk": ["ruang kosong di bawah batas"]}


def test_every_failing_check_is_named_at_once(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    app = make_app(tmp_path, "sqlite:////nonexistent-folder/jemput.db",
                   JEMPUT_BLOB_DIR=str(blocker / "blobs"), JEMPUT_MIN_FREE_BYTES=2**62)
    assert set(_not_ready(app, tmp_path)["errors"]) == CHECKS


def test_readyz_is_public_and_described(client: FlaskClient) -> None:
    document = dict(client.get("/api/v1/openapi.json").json or {})
    operation = document["paths"]["/readyz"]["get"]
    assert operation["security"] == []
    assert set(operation["responses"]) == {"200", "503"}
    assert "Ready" in document["components"]["schemas"]
