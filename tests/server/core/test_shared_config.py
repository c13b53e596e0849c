"""Several hosts, one truth: on PostgreSQL the secret key and the key ring are shared
configuration. A host without ``JEMPUT_SECRET_KEY``, without ``JEMPUT_KEYRING`` or whose ring is
not there refuses to start, and only ``jemput-server init`` makes the ring; on SQLite the
instance folder stays the default. The per-process ring cache never hides a change made by
another host."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import flask_migrate
import pytest
from click.testing import CliRunner
from flask.cli import FlaskGroup

from server import create_app
from server.core import keyring
from server.core.errors import KeyRingMissing
from server.core.extensions import dispose_engines

PG = "postgres://u@h/db"  # never connected to: the app refuses before


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A clean environment with its instance folder; returns the folder."""
    for name in ("JEMPUT_DATABASE_URL", "JEMPUT_BLOB_DIR", "JEMPUT_SECRET_KEY", "JEMPUT_KEYRING",
                 "JEMPUT_TRUSTED_PROXIES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("JEMPUT_INSTANCE_PATH", str(tmp_path / "instance"))
    return tmp_path / "instance"


def test_postgresql_without_a_secret_key_refuses_to_start(
        env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JEMPUT_DATABASE_URL", PG)
    monkeypatch.setenv("JEMPUT_KEYRING", str(env / "ring.json"))
    with pytest.raises(ValueError, match="JEMPUT_SECRET_KEY wajib diisi bila basis data "
                                         "PostgreSQL"):
        create_app()
    assert not (env / "secret_key").exists()  # no per-host key made instead


def test_postgresql_without_a_key_ring_path_refuses_to_start(
        env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JEMPUT_DATABASE_URL", PG)
    monkeypatch.setenv("JEMPUT_SECRET_KEY", "shared")
    with pytest.raises(ValueError, match="JEMPUT_KEYRING wajib diisi"):
        create_app()
    assert not (env / keyring.FILE_NAME).exists()


def test_postgresql_with_a_missing_ring_refuses_and_makes_none(
        env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ring = tmp_path / "shared" / "keyring.json"
    monkeypatch.setenv("JEMPUT_DATABASE_URL", PG)
    monkeypatch.setenv("JEMPUT_SECRET_KEY", "shared")
    monkeypatch.setenv("JEMPUT_KEYRING", str(ring))
    with pytest.raises(KeyRingMissing, match="jemput-server init"):
        create_app()
    assert not ring.exists() and not (env / keyring.FILE_NAME).exists()
    # Another command than init (here: rotate-suket-key) does not make it either.
    group = FlaskGroup(create_app=create_app)
    outcome = CliRunner().invoke(group, ["rotate-suket-key"])
    assert outcome.exit_code != 0
    assert "jemput-server init" in outcome.output
    assert not ring.exists()
    # Once there (made by init, on any host), every host starts over the same ring.
    made, _ = keyring.ensure(ring)
    app = create_app()
    assert keyring.path_of(app) == ring and app.config["SECRET_KEY"] == "shared"
    assert not (env / keyring.FILE_NAME).exists() and not (env / "secret_key").exists()
    with app.app_context():
        assert keyring.current().current == made.current


def test_sqlite_keeps_the_instance_folder(env: Path) -> None:
    app = create_app()
    assert keyring.path_of(app) == env / keyring.FILE_NAME
    ring = keyring.load(env / keyring.FILE_NAME)  # made on first start
    assert ring.suket is not None and ring.audit is not None
    assert app.config["SECRET_KEY"] == (env / "secret_key").read_text().strip()


def test_init_makes_the_shared_ring_on_postgresql(
        env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.support.server_app import PG_URL

    if not PG_URL:
        pytest.skip("JEMPUT_TEST_DATABASE_URL is not set")
    url = _scratch_database(monkeypatch)
    ring = tmp_path / "shared" / "keyring.json"
    monkeypatch.setenv("JEMPUT_DATABASE_URL", url)
    monkeypatch.setenv("JEMPUT_SECRET_KEY", "shared")
    monkeypatch.setenv("JEMPUT_KEYRING", str(ring))
    monkeypatch.setenv("JEMPUT_TEST_KDF", "1")
    outcome = CliRunner().invoke(FlaskGroup(create_app=create_app), ["init"])
    assert outcome.exit_code == 0, outcome.output
    assert str(ring) in outcome.output
    made = keyring.load(ring)
    assert made.suket is not None and not (env / keyring.FILE_NAME).exists()
    app = create_app()  # a server now starts
    try:
        with app.app_context():
            assert keyring.current().current == made.current
            flask_migrate.downgrade(revision="base")
    finally:
        dispose_engines(app)


def _scratch_database(monkeypatch: pytest.MonkeyPatch) -> str:
    """A PostgreSQL database of its own for an init run (made once, emptied by the test)."""
    import psycopg
    from psycopg import sql
    from sqlalchemy.engine import make_url

    from server.core.config import normalise_database_url
    from tests.support.server_app import PG_URL

    assert PG_URL
    url = make_url(normalise_database_url(PG_URL))
    name = f"{url.database or 'test'}_init_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
    admin = url.set(drivername="postgresql", database="postgres")
    with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    plain = url.set(drivername="postgresql", database=name)
    with psycopg.connect(plain.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")
    return url.set(database=name).render_as_string(hide_password=False)


def test_the_ring_cache_sees_a_rewrite_with_the_same_mtime(tmp_path: Path) -> None:
    """Another host rotates within the same clock tick: the next load still reads it."""
    path = tmp_path / "keyring.json"
    keyring.ensure(path)
    stamp = path.stat().st_mtime_ns
    assert keyring.load(path) is keyring.load(path)  # cached while unchanged
    key = keyring.rotate_suket(path)
    os.utime(path, ns=(stamp, stamp))
    assert keyring.load(path).suket == key


def test_two_starts_upgrading_an_older_ring_keep_one_key(tmp_path: Path) -> None:
    path = tmp_path / "keyring.json"
    keyring.ensure(path)
    document = json.loads(path.read_text())
    for name in ("suket", "suket_current", "audit", "audit_current"):
        del document[name]
    path.write_text(json.dumps(document))
    seen: list[keyring.KeyRing] = []
    threads = [threading.Thread(target=lambda: seen.append(keyring.ensure(path)[0]))
               for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    final = keyring.load(path)
    assert final.suket is not None and final.audit is not None
    assert {ring.suket for ring in seen} == {final.suket}
    assert {ring.audit for ring in seen} == {final.audit}
