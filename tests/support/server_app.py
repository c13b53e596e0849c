"""The server app under test: made blind to the developer's environment, and its answers checked.

``make_app`` builds an app over a database URL; ``PG_URL`` is the PostgreSQL server the suite
also runs on when ``JEMPUT_TEST_DATABASE_URL`` is set; ``device_client`` is a test client that
names the protocol version on every request, as the field client does (``PROTOCOL``);
``assert_problem`` checks an RFC 9457 answer; ``NOTHING_WRITTEN`` is what the ``row_counts``
fixture shows after a refused input.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, text

from server import create_app
from server.core.extensions import db as database
from shared.pin import TEST_KDF_COST
from shared.protocol import PROTOCOL_HEADER, PROTOCOL_VERSION

PG_URL = os.environ.get("JEMPUT_TEST_DATABASE_URL")
#: ``../shared/data`` beside the repository: reference data that is not copied into it.
SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
#: The tables a push writes.
COUNTED_TABLES = ("enrollment", "attachment", "change", "rejected_push")
NOTHING_WRITTEN = dict.fromkeys(COUNTED_TABLES, 0)
#: The header every device request carries.
PROTOCOL = {PROTOCOL_HEADER: str(PROTOCOL_VERSION)}


#: The secret key every PostgreSQL test app shares, as the app hosts of one office do.
PG_SECRET_KEY = "jemput-test-secret-key-shared-by-every-host"


def make_app(instance: Path, url: str, **config: Any) -> Flask:
    """An app over ``url`` with its instance folder in ``instance``, blind to the real env.

    On PostgreSQL the secret key and the key ring are shared configuration (required): the app
    gets :data:`PG_SECRET_KEY` and the ring ``<instance>/keyring.json``, made here as
    ``jemput-server init`` would, unless ``config`` names others."""
    if url.startswith(("postgresql", "postgres:")):
        from server.core import keyring

        config.setdefault("SECRET_KEY", PG_SECRET_KEY)
        config.setdefault("JEMPUT_KEYRING", str(instance / keyring.FILE_NAME))
        keyring.ensure(Path(config["JEMPUT_KEYRING"]))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("JEMPUT_INSTANCE_PATH", str(instance))
        for name in ("JEMPUT_DATABASE_URL", "JEMPUT_BLOB_DIR", "JEMPUT_SECRET_KEY",
                     "JEMPUT_MAX_REQUEST_BYTES", "JEMPUT_KEYRING", "JEMPUT_BLOB_URL",
                     "JEMPUT_S3_ENDPOINT_URL", "JEMPUT_JOBS"):
            patch.delenv(name, raising=False)
        # Background jobs run right after the request that queued them (tests of the queue
        # itself choose "thread" or "worker").
        config.setdefault("JEMPUT_JOBS", "inline")
        # PIN keys at libsodium's floor cost: a derivation in microseconds, not 0.3 s.
        return create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url,
                           "PIN_KDF_COST": TEST_KDF_COST, **config})


def device_client(app: Flask) -> FlaskClient:
    """A test client whose every request carries ``Jemput-Protocol: 2`` (a request's own
    headers may still replace it); ``app.test_client()`` sends none."""
    client = app.test_client()
    client.environ_base["HTTP_" + PROTOCOL_HEADER.upper().replace("-", "_")] = \
        str(PROTOCOL_VERSION)
    return client


def truncate_all() -> None:
    """Empty every table of the app's database (PostgreSQL), restarting the sequences."""
    quote = database.engine.dialect.identifier_preparer.quote
    names = ", ".join(quote(table.name) for table in database.metadata.sorted_tables)
    database.session.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    database.session.commit()


def assert_problem(answer: Any, status: int, code: str) -> dict[str, Any]:
    """Check that ``answer`` is an RFC 9457 problem with ``status`` and ``code``; return it."""
    assert answer.status_code == status, answer.get_data(as_text=True)
    assert answer.mimetype == "application/problem+json"
    body = answer.json
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"] == f"urn:jemput:problem:{code}"
    assert body["title"] and body["detail"]
    return dict(body)


def pin_opens(username: str, pin: str) -> bool:
    """Whether ``pin`` derives the key the server keeps (sealed) for ``username``; call inside
    an app context. The server keeps no PIN and no PIN hash: only that sealed key."""
    from server.core import keyring
    from server.core.models import Operator
    from shared.pin import KdfCost, derive_key
    from shared.sealing import unb64

    operator = database.session.execute(
        select(Operator).where(Operator.username == username)).scalar_one()
    cost = KdfCost(operator.kdf_opslimit, operator.kdf_memlimit)
    kept = keyring.current().open(operator.pin_key_kid, unb64(operator.pin_key_sealed))
    return derive_key(pin, unb64(operator.pin_salt), cost) == kept
