"""Fixtures of the field client suite: a home folder, its outbox, a client, a live server."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from field_client.client import FieldClient
from field_client.config import Settings, load_settings
from field_client.store.outbox import Outbox, open_outbox
from tests.support.field_ui import login, prepare_device
from tests.support.keys import give_office_key
from tests.support.live_server import LiveServer
from tests.support.wsgi_thread import serving


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A device home folder that does not exist yet."""
    return tmp_path / "field-home"


@pytest.fixture
def settings(home: Path) -> Settings:
    """Settings for ``home``, independent of the developer's environment (the test KDF cost
    accepted, as the test server derives PIN keys at it)."""
    return load_settings(home, environ={"JEMPUT_TEST_KDF": "1"})


@pytest.fixture
def outbox(settings: Settings) -> Iterator[Outbox]:
    """A file-backed outbox in ``tmp_path``."""
    opened = open_outbox(settings.outbox_path)
    yield opened
    opened.close()


@pytest.fixture
def field_client(settings: Settings) -> Iterator[FieldClient]:
    """A field client over ``home`` (not registered, but holding the tests' office key: it
    saves sealed records; ``tests.support.keys.DATA_KEY`` is its data key)."""
    with FieldClient(settings=settings) as client:
        with client.outbox.atomic():
            give_office_key(client.outbox)
        yield client


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The developer's JEMPUT_* settings must not leak into the suite."""
    for name in (
        "JEMPUT_FIELD_HOME",
        "JEMPUT_OPERATOR",
        "JEMPUT_FIELD_BATCH_SIZE",
        "JEMPUT_FIELD_CONNECT_TIMEOUT",
        "JEMPUT_FIELD_READ_TIMEOUT",
        "JEMPUT_FIELD_RETENTION_DAYS",
        "JEMPUT_FIELD_IDLE_INTERVAL",
        "JEMPUT_FIELD_CHUNK_SIZE",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def live_server_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated and seeded server database, made once per worker and copied per test."""
    import flask_migrate

    from server.core.extensions import dispose_engines
    from server.registry.regions import seed_sekadau
    from tests.support.server_app import make_app

    folder = tmp_path_factory.mktemp("live-template")
    database = folder / "s.db"
    app = make_app(folder, f"sqlite:///{database}")
    with app.app_context():
        flask_migrate.upgrade()
        seed_sekadau()
    dispose_engines(app)  # the last connection closing checkpoints the WAL into the file
    return database


@pytest.fixture
def live_server(tmp_path: Path, live_server_template: Path) -> Iterator[LiveServer]:
    """The real server app over a fresh SQLite copy, served by werkzeug in a thread."""
    from server.core.extensions import dispose_engines
    from tests.support.server_app import make_app

    instance = tmp_path / "server-instance"
    instance.mkdir()
    database = instance / "s.db"
    shutil.copyfile(live_server_template, database)
    app = make_app(instance, f"sqlite:///{database}")
    with serving(app) as url:
        yield LiveServer(url, app)
    dispose_engines(app)


@pytest.fixture
def app(settings: Settings) -> Flask:
    """The operator web app over a device with an operator list (offline: nothing listens)."""
    from field_client.ui import create_app

    prepare_device(settings)
    made = create_app(settings)
    made.config["TESTING"] = True
    return made


@pytest.fixture
def web(app: Flask) -> Iterator[FlaskClient]:
    """A browser session of ``app`` with the operator logged in."""
    with app.test_client() as client:
        assert login(client).status_code == 302
        yield client
