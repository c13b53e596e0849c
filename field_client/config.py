"""Settings of the field client; the only module that reads the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import platformdirs

from field_client.errors import ConfigInvalid
from shared.protocol import MAX_PUSH_RECORDS

ENV_TEST_KDF = "JEMPUT_TEST_KDF"
ENV_HOME = "JEMPUT_FIELD_HOME"
ENV_OPERATOR = "JEMPUT_OPERATOR"
ENV_BATCH_SIZE = "JEMPUT_FIELD_BATCH_SIZE"
ENV_CONNECT_TIMEOUT = "JEMPUT_FIELD_CONNECT_TIMEOUT"
ENV_READ_TIMEOUT = "JEMPUT_FIELD_READ_TIMEOUT"
ENV_RETENTION_DAYS = "JEMPUT_FIELD_RETENTION_DAYS"
ENV_IDLE_INTERVAL = "JEMPUT_FIELD_IDLE_INTERVAL"
ENV_CHUNK_SIZE = "JEMPUT_FIELD_CHUNK_SIZE"

KIB = 1024
#: Bytes per upload PATCH: large enough to keep a good link busy, small enough that a cut link
#: costs little (at most one chunk is sent again).
DEFAULT_CHUNK_SIZE = 512 * KIB
MIN_CHUNK_SIZE = 64 * KIB
MAX_CHUNK_SIZE = 8 * 1024 * KIB

OUTBOX_NAME = "outbox.sqlite3"
FILES_DIR = "files"
DRAFTS_DIR = "drafts"
LOCK_NAME = "sync.lock"

_Num = TypeVar("_Num", int, float)


@dataclass(frozen=True)
class Settings:
    """Where the client keeps its data and how it talks to the server."""

    home: Path
    operator: str | None = None
    batch_size: int = 200
    connect_timeout: float = 5.0
    # A push of a full batch is ingested in one server transaction; give it time.
    read_timeout: float = 60.0
    retention_days: int = 30
    idle_interval: float = 30.0
    backoff_base: float = 2.0
    backoff_max: float = 300.0
    chunk_size: int = DEFAULT_CHUNK_SIZE
    #: Accept the low Argon2id cost of test installations (``JEMPUT_TEST_KDF=1``); a laptop in
    #: the field refuses a profile that asks for less than ``shared.pin.KDF_COST``.
    allow_test_kdf: bool = False

    @property
    def outbox_path(self) -> Path:
        """The SQLite file holding the outbox."""
        return self.home / OUTBOX_NAME

    @property
    def files_dir(self) -> Path:
        """The content-addressed folder of biometric files."""
        return self.home / FILES_DIR

    @property
    def drafts_dir(self) -> Path:
        """Where files uploaded into drafts wait (one folder per draft) until it is saved."""
        return self.home / DRAFTS_DIR

    @property
    def lock_path(self) -> Path:
        """The file locked while a sync runs."""
        return self.home / LOCK_NAME


def load_settings(
    home: Path | str | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Build the settings from an explicit home and the environment (``os.environ`` by default)."""
    env = os.environ if environ is None else environ
    chosen = home or env.get(ENV_HOME) or platformdirs.user_data_dir("jemput-field")
    batch = _number(env, ENV_BATCH_SIZE, int, 200, low=1)
    return Settings(
        home=Path(chosen).expanduser().absolute(),  # relative to where it started, once
        operator=env.get(ENV_OPERATOR) or None,
        # The server refuses a push of more than MAX_PUSH_RECORDS whole; never ask for more.
        batch_size=min(batch, MAX_PUSH_RECORDS),
        connect_timeout=_number(env, ENV_CONNECT_TIMEOUT, float, 5.0, low=0.1),
        read_timeout=_number(env, ENV_READ_TIMEOUT, float, 60.0, low=0.1),
        retention_days=_number(env, ENV_RETENTION_DAYS, int, 30, low=0),
        idle_interval=_number(env, ENV_IDLE_INTERVAL, float, 30.0, low=0.0),
        chunk_size=_chunk_size(env),
        allow_test_kdf=env.get(ENV_TEST_KDF) == "1",
    )


def _chunk_size(env: Mapping[str, str]) -> int:
    """``JEMPUT_FIELD_CHUNK_SIZE`` in bytes, within 64 KiB..8 MiB."""
    size = _number(env, ENV_CHUNK_SIZE, int, DEFAULT_CHUNK_SIZE, low=0)
    if not MIN_CHUNK_SIZE <= size <= MAX_CHUNK_SIZE:
        raise ConfigInvalid(
            f"{ENV_CHUNK_SIZE}={size} di luar batas: ukuran potongan unggahan harus antara "
            f"{MIN_CHUNK_SIZE} (64 KiB) dan {MAX_CHUNK_SIZE} (8 MiB) byte, mis. 524288 "
            "(512 KiB)."
        )
    return size


def _number(
    env: Mapping[str, str], name: str, kind: type[_Num], default: _Num, *, low: float
) -> _Num:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise ConfigInvalid(f"{name}={raw!r} bukan angka yang sah.") from None
    if value < low:
        raise ConfigInvalid(f"{name} harus paling sedikit {low}.")
    return value
