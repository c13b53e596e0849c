"""The app as a whole: health, OpenAPI, error handling, configuration."""

from __future__ import annotations

import logging
import stat
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from server.core.config import normalise_database_url
from tests.server.conftest import assert_problem, make_app


def test_healthz(client: FlaskClient) -> None:
    answer = client.get("/healthz")
    assert answer.status_code == 200
    assert answer.json == {"status": "ok", "database": "ok"}


def test_index_points_to_the_api_without_data(client: FlaskClient) -> None:
    answer = client.get("/")
    assert answer.status_code == 200
    assert answer.json["openapi"] == "/api/v1/openapi.json"
    assert answer.json["health"] == "/healthz"
    assert set(answer.json) == {"name", "description", "protocol_version", "api", "openapi",
                                "health"}


def test_healthz_is_503_when_the_database_does_not_answer(tmp_path: Path) -> None:
    app = make_app(tmp_path, "sqlite:////nonexistent-folder/jemput.db")
    assert_problem(app.test_client().get("/healthz"), 503, "service_unavailable")


def test_openapi_lists_every_path(app: Flask, client: FlaskClient) -> None:
    answer = client.get("/api/v1/openapi.json")
    assert answer.status_code == 200
    spec = answer.json
    assert spec["openapi"].startswith("3.")
    routes = {rule.rule.replace("<", "{").replace(">", "}")  # /uploads/<upload_id>: OpenAPI
              for rule in app.url_map.iter_rules() if rule.endpoint != "static"}
    assert routes <= set(spec["paths"])
    assert {"/healthz", "/api/v1/devices", "/api/v1/sync/push", "/api/v1/sync/pull",
            "/api/v1/openapi.json"} <= set(spec["paths"])
    assert "Record" in spec["components"]["schemas"]
    assert spec["paths"]["/healthz"]["get"]["security"] == []
    assert "since" in {p["name"] for p in spec["paths"]["/api/v1/sync/pull"]["get"]["parameters"]}


def test_unknown_path_and_wrong_method_are_problems(client: FlaskClient) -> None:
    assert_problem(client.get("/api/v1/nothing"), 404, "not_found")
    answer = client.get("/api/v1/sync/push")
    assert_problem(answer, 405, "method_not_allowed")
    assert "POST" in answer.headers["Allow"]


def test_unexpected_error_is_a_generic_500_without_details(
    app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    def boom() -> str:
        raise RuntimeError("secret NIK 6109045708900001")

    app.add_url_rule("/boom", view_func=boom)
    with caplog.at_level(logging.ERROR, logger="server.core.errors"):
        answer = app.test_client().get("/boom")
    problem = assert_problem(answer, 500, "internal_error")
    assert "6109045708900001" not in answer.get_data(as_text=True)
    assert "Traceback" not in answer.get_data(as_text=True)
    assert problem["detail"]
    assert any(r.levelno == logging.ERROR and "RuntimeError" in r.getMessage()
               for r in caplog.records)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgres://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
        ("sqlite:////tmp/x.db", "sqlite:////tmp/x.db"),
    ],
)
def test_database_urls_are_normalised(url: str, expected: str) -> None:
    assert normalise_database_url(url) == expected


def test_configuration_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from server import create_app

    monkeypatch.setenv("JEMPUT_INSTANCE_PATH", str(tmp_path / "inst"))
    for name in ("JEMPUT_DATABASE_URL", "JEMPUT_BLOB_DIR", "JEMPUT_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("JEMPUT_MAX_REQUEST_BYTES", "12345")
    app = create_app()
    instance = tmp_path / "inst"
    assert app.instance_path == str(instance)
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{instance / 'jemput.db'}"
    assert app.config["JEMPUT_BLOB_DIR"] == str(instance / "blobs")
    assert app.config["MAX_CONTENT_LENGTH"] == 12345
    key_file = instance / "secret_key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert app.config["SECRET_KEY"] == key_file.read_text().strip()
    assert create_app().config["SECRET_KEY"] == app.config["SECRET_KEY"]  # kept, not renewed
    monkeypatch.setenv("JEMPUT_SECRET_KEY", "from-env")
    monkeypatch.setenv("JEMPUT_DATABASE_URL", "postgres://u@h/db")
    app = create_app()
    assert app.config["SECRET_KEY"] == "from-env"
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@h/db"
    assert app.config["SQLALCHEMY_ENGINE_OPTIONS"] == {
        "hide_parameters": True, "pool_pre_ping": True}
