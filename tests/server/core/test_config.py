"""The app's configuration: database URLs, and settings from the environment."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from server.core.config import normalise_database_url


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
    monkeypatch.setenv("JEMPUT_KEYRING", str(instance / "keyring.json"))  # required there
    app = create_app()
    assert app.config["SECRET_KEY"] == "from-env"
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@h/db"
    assert app.config["SQLALCHEMY_ENGINE_OPTIONS"] == {
        "hide_parameters": True, "pool_pre_ping": True,
        "connect_args": {"options": "-c lock_timeout=10000"}}  # no lock wait is unbounded
    assert app.config["JEMPUT_JOBS"] == "worker"  # app servers on PostgreSQL only enqueue


@pytest.mark.parametrize(("name", "value"), [
    ("JEMPUT_JOBS", "cron"), ("JEMPUT_JOB_LEASE_SECONDS", "lama"),
    ("JEMPUT_LOCK_TIMEOUT_SECONDS", "0"), ("JEMPUT_JOB_POLL_SECONDS", "-1"),
    ("JEMPUT_JOB_LOCK_TIMEOUT_SECONDS", "1e9"), ("JEMPUT_COVERAGE_REFRESH_SECONDS", "sebentar"),
])
def test_a_bad_job_setting_stops_the_start_naming_it(
        name: str, value: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from server import create_app

    monkeypatch.setenv("JEMPUT_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.delenv("JEMPUT_DATABASE_URL", raising=False)
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=name):
        create_app()
    monkeypatch.delenv(name)
    app = create_app()  # unset: the defaults, a thread on SQLite
    assert app.config["JEMPUT_JOBS"] == "thread"
    assert (app.config["JEMPUT_JOB_LEASE_SECONDS"], app.config["JEMPUT_LOCK_TIMEOUT_SECONDS"]) == (
        30, 10)
    assert app.config["JEMPUT_COVERAGE_REFRESH_SECONDS"] is None  # 60 s, none when inline
    monkeypatch.setenv("JEMPUT_COVERAGE_REFRESH_SECONDS", "5")
    assert create_app().config["JEMPUT_COVERAGE_REFRESH_SECONDS"] == 5
