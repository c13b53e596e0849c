"""Fixtures of the server suite: an app per backend, its clients, a device, record factories.

``client`` names the protocol version on every request (``Jemput-Protocol: 2``), as the field
client does; ``push`` seals each record to the app's office key into the envelope of protocol 2
(the same record, the same sealed bytes: a laptop resends what it stored).

``app`` is parametrised over ``sqlite`` (a fresh copy of a migrated template file per test) and
``postgresql`` (only when ``JEMPUT_TEST_DATABASE_URL`` is set: one database per xdist worker,
migrated once per session and truncated between tests).
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import flask_migrate
import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from flask_sqlalchemy import SQLAlchemy
from psycopg import sql
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from server.accounts import devices
from server.core.config import normalise_database_url
from server.core.extensions import db as database
from server.core.extensions import dispose_engines
from server.registry import regions
from tests.support.records import OfficeKey, build_record, envelope, office_key
from tests.support.server_app import (
    COUNTED_TABLES,
    PG_URL,
    PROTOCOL,
    device_client,
    make_app,
    truncate_all,
)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated, seeded SQLite file, made once per session and copied for each test."""
    folder = tmp_path_factory.mktemp("sqlite-template")
    path = folder / "jemput.db"
    app = make_app(folder, f"sqlite:///{path}")
    with app.app_context():
        flask_migrate.upgrade()
        regions.seed_sekadau()
    dispose_engines(app)  # the last connection closing checkpoints the WAL into the file
    return path


@pytest.fixture(scope="session")
def postgres_url(worker_id: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """This xdist worker's own PostgreSQL database, with a fresh schema migrated to head."""
    if not PG_URL:
        pytest.skip("JEMPUT_TEST_DATABASE_URL is not set")
    url = make_url(normalise_database_url(PG_URL))
    name = f"{url.database or 'test'}_{worker_id}"
    admin = url.set(drivername="postgresql", database="postgres")
    with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    target = url.set(database=name)
    plain = target.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(plain, autocommit=True) as conn:  # leftovers of an older run
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")
    rendered = target.render_as_string(hide_password=False)
    app = make_app(tmp_path_factory.mktemp("pg-migrate"), rendered)
    with app.app_context():
        flask_migrate.upgrade()
    dispose_engines(app)
    return rendered


@pytest.fixture(params=["sqlite", "postgresql"])
def app(request: pytest.FixtureRequest, tmp_path: Path,
        blob_config: dict[str, str]) -> Iterator[Flask]:
    """The server app on a clean database holding only the Sekadau regions."""
    instance = tmp_path / "instance"
    instance.mkdir()
    if request.param == "sqlite":
        shutil.copyfile(request.getfixturevalue("sqlite_template"), instance / "jemput.db")
        url = f"sqlite:///{instance / 'jemput.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    application = make_app(instance, url, **blob_config)
    if request.param == "postgresql":
        with application.app_context():
            truncate_all()
            regions.seed_sekadau()
    yield application
    dispose_engines(application)


@pytest.fixture
def blob_config() -> dict[str, str]:
    """Extra app configuration of the blob store: none, the folder store (a folder may
    parametrise it over other stores: tests/server/sync/uploads runs on S3 too)."""
    return {}


@pytest.fixture
def db(app: Flask) -> Iterator[SQLAlchemy]:
    """The database extension inside an app context, for calling services directly."""
    with app.app_context():
        yield database


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client that sends ``Jemput-Protocol: 2`` with every request."""
    return device_client(app)


@pytest.fixture
def old_client(app: Flask) -> FlaskClient:
    """A test client that names no protocol version (an older field client, or a script)."""
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


@pytest.fixture
def new_code(app: Flask) -> Callable[..., str]:
    """Create a one-time registration code: ``new_code(team="TIM-1")``."""

    def create(team: str = "TIM-1", ttl: dt.timedelta = dt.timedelta(hours=24)) -> str:
        with app.app_context():
            return devices.create_registration_code(team, ttl=ttl)

    return create


@pytest.fixture
def register(client: FlaskClient, new_code: Callable[..., str]) -> Callable[..., tuple[str, str]]:
    """Register a fresh device over HTTP; returns ``(device_id, token)``."""

    def run(name: str = "laptop-1", team: str = "TIM-1") -> tuple[str, str]:
        answer = client.post("/api/v1/devices", json={"code": new_code(team), "name": name})
        assert answer.status_code == 201, answer.json
        return answer.json["device_id"], answer.json["token"]

    return run


@pytest.fixture
def device(register: Callable[..., tuple[str, str]]) -> tuple[str, str]:
    """A registered device: ``(device_id, token)``."""
    return register()


@pytest.fixture
def auth_headers(device: tuple[str, str]) -> dict[str, str]:
    """What every request of the ``device`` carries: its token and the protocol version."""
    return {"Authorization": f"Bearer {device[1]}", **PROTOCOL}


@pytest.fixture
def make_record() -> Callable[..., dict[str, Any]]:
    """``make_record(**options)``: :func:`build_record` with the next seq unless one is given."""
    counter = itertools.count(1)

    def make(seq: int | None = None, **options: Any) -> dict[str, Any]:
        return build_record(seq if seq is not None else next(counter), **options)

    return make


@pytest.fixture
def sealing_key(app: Flask) -> OfficeKey:
    """The app's current office key, as registration hands it to a laptop."""
    return office_key(app)


@pytest.fixture
def seal(app: Flask) -> Callable[[Any], dict[str, Any]]:
    """``seal(record)``: the push item of protocol 2, sealed to the app's current office key.

    The same record (same content) gets the same sealed bytes every time, as a laptop sends
    again what it stored; a record changed in any way is sealed anew.
    """
    key = office_key(app)
    made: dict[str, dict[str, Any]] = {}

    def wrap(record: Any) -> dict[str, Any]:
        known = json.dumps(record, sort_keys=True)
        if known not in made:
            made[known] = envelope(record, key)
        return dict(made[known])

    return wrap


@pytest.fixture
def push(client: FlaskClient, auth_headers: dict[str, str],
         seal: Callable[[Any], dict[str, Any]]) -> Callable[..., Any]:
    """``push(records)`` seals each record, posts the batch as the ``device`` and returns the
    response; ``push(items, raw=True)`` posts the items as they are (envelopes of one's own)."""

    def post(records: list[Any], *, raw: bool = False, **kwargs: Any) -> Any:
        items = records if raw else [seal(record) for record in records]
        return client.post("/api/v1/sync/push", json={"records": items},
                           headers=kwargs.pop("headers", auth_headers), **kwargs)

    return post


@pytest.fixture
def row_counts(app: Flask) -> Callable[[], dict[str, int]]:
    """Rows in the tables a push writes, to prove that a refused input wrote nothing."""

    def count() -> dict[str, int]:
        with app.app_context():
            return {
                name: database.session.execute(
                    select(func.count()).select_from(database.metadata.tables[name])
                ).scalar_one()
                for name in COUNTED_TABLES
            }

    return count
