"""The app over HTTP: health, the index, OpenAPI, errors as problems."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.support.server_app import assert_problem, make_app


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
