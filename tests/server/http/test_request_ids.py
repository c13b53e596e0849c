"""Request ids: every answer carries ``X-Request-Id`` (the client's when it is safe, else a new
random one), and every log record of the request names it; ``log_context(job=...)`` names a
worker's job the same way."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from server.core import logs
from server.core.errors import InvalidInput
from server.http.request_ids import HEADER

LOGGER = "server.tests.request_ids"


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """What the root logger's records look like in Jemput's own format, filter included."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter(logs.FORMAT))
    handler.addFilter(logs.ContextFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    level = logging.getLogger(LOGGER).level
    logging.getLogger(LOGGER).setLevel(logging.INFO)
    yield out
    root.removeHandler(handler)
    logging.getLogger(LOGGER).setLevel(level)


@pytest.fixture
def chatty(app: Flask) -> Flask:
    """Routes that log, answer a problem, or fail."""
    def say() -> str:
        logging.getLogger(LOGGER).info("handling")
        return "ok"

    def refuse() -> str:
        logging.getLogger(LOGGER).info("refusing")
        raise InvalidInput("nope")

    def boom() -> str:
        raise RuntimeError("broken")

    app.add_url_rule("/say", view_func=say)
    app.add_url_rule("/refuse", view_func=refuse)
    app.add_url_rule("/boom", view_func=boom)
    return app


def test_each_request_gets_a_new_random_id(client: FlaskClient) -> None:
    ids = [client.get("/healthz").headers[HEADER] for _ in range(3)]
    assert len(set(ids)) == 3
    assert all(len(value) == 32 and int(value, 16) >= 0 for value in ids)


@pytest.mark.parametrize("sent", ["abcd1234", "nginx.req_7f3a-9", "x" * 64,
                                  "0123456789abcdef0123456789abcdef"])
def test_a_safe_client_id_is_kept(client: FlaskClient, sent: str) -> None:
    assert client.get("/healthz", headers={HEADER: sent}).headers[HEADER] == sent


@pytest.mark.parametrize("sent", ["", "short", "x" * 65, "has spaces in it",
                                  "quote\"d-value", "semi;colon;id", "ünïcödé-id"])
def test_an_unsafe_client_id_is_replaced(client: FlaskClient, sent: str) -> None:
    answered = client.get("/healthz", headers={HEADER: sent}).headers[HEADER]
    assert answered != sent and len(answered) == 32


def test_problems_and_failures_carry_the_id_too(chatty: Flask) -> None:
    client = chatty.test_client()
    for path, status in (("/nothing", 404), ("/refuse", 400), ("/boom", 500),
                         ("/api/v1/sync/push", 405)):
        answer = client.get(path, headers={HEADER: f"probe-{status}-id"})
        assert answer.status_code == status
        assert answer.headers[HEADER] == f"probe-{status}-id"


def test_every_record_of_a_request_names_its_id(chatty: Flask,
                                                captured: io.StringIO) -> None:
    client = chatty.test_client()
    client.get("/say", headers={HEADER: "first-request"})
    made = client.get("/refuse").headers[HEADER]
    client.get("/boom", headers={HEADER: "failing-request"})
    logging.getLogger(LOGGER).info("outside")
    lines = captured.getvalue().splitlines()
    assert any("[req=first-request]: handling" in line for line in lines)
    assert any(f"[req={made}]: refusing" in line for line in lines)
    # The 500's own record (type and traceback only) names the request too.
    assert any("[req=failing-request]" in line and "Unhandled RuntimeError" in line
               for line in lines)
    assert any("[-]: outside" in line for line in lines)


def test_log_context_names_a_job_and_ends_with_its_block(captured: io.StringIO) -> None:
    log = logging.getLogger(LOGGER)
    with logs.log_context(job="run-checks-42"):
        log.info("checking")
        with logs.log_context(step="2"):
            log.info("nested")
    log.info("after")
    lines = captured.getvalue().splitlines()
    assert lines[0].endswith("[job=run-checks-42]: checking")
    assert lines[1].endswith("[job=run-checks-42 step=2]: nested")
    assert lines[2].endswith("[-]: after")


def test_records_carry_the_fields_for_other_formats(chatty: Flask) -> None:
    seen: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record)

    handler = Keep()
    handler.addFilter(logs.ContextFilter())
    logger = logging.getLogger(LOGGER)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        chatty.test_client().get("/say", headers={HEADER: "field-check"})
    finally:
        logger.removeHandler(handler)
    [record] = seen
    assert (vars(record)["request_id"], vars(record)["job"]) == ("field-check", "-")


def test_jemput_configures_the_filter_and_format_when_nobody_else_did(app: Flask) -> None:
    root = logging.getLogger()
    saved, saved_level = root.handlers[:], root.level
    root.handlers = []
    try:
        logs.init_app(app)
        [handler] = root.handlers
        assert any(isinstance(f, logs.ContextFilter) for f in handler.filters)
        assert handler.formatter is not None
        assert handler.formatter._fmt == logs.FORMAT
    finally:
        for handler in root.handlers:
            handler.close()
        root.handlers = saved
        root.setLevel(saved_level)
