"""Helpers for the operator web app's tests: a device with an operator list, forms, tokens."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from io import BytesIO
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient

from field_client.client import FieldClient
from field_client.config import Settings
from field_client.store import profile
from shared import datakey
from shared.canonical import canonical_json
from shared.pin import TEST_KDF_COST, derive_key, new_salt, wrap_key
from shared.sealing import b64
from shared.vocab import BIOMETRIC_ROLES, EXCEPTABLE_ROLES
from tests.support.field import biometric_files
from tests.support.keys import DATA_KEY, office_key_document
from tests.support.payloads import payload

PIN = "48291573"
OTHER_PIN = "73026419"
OPERATOR = "op.suryadi"
DESA = [
    {"kode": "61.09.04.2006", "nama": "NANGA MAHAP"},
    {"kode": "61.09.04.2007", "nama": "TEMBAGA"},
]
_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


#: (username, nama, PIN) of the tests' operators.
OPERATORS = ((OPERATOR, "Suryadi", PIN), ("op.maria", "Maria", OTHER_PIN))


def profile_document(
    data_key: bytes, *, operators: bool = True,
    people: Sequence[tuple[str, str, str]] | None = None,
    desa: Sequence[Mapping[str, str]] = DESA,
) -> dict[str, Any]:
    """A device profile as the server sends it: wraps of ``data_key`` for ``people`` (by default
    OPERATOR with PIN and op.maria with OTHER_PIN; none without ``operators``) at the test KDF
    cost, the names and desa under the data key."""
    if people is None:
        people = OPERATORS if operators else ()
    wraps = []
    for username, _, pin in people:
        salt = new_salt()
        key = derive_key(pin, salt, TEST_KDF_COST)
        wraps.append({"username": username, "salt": b64(salt),
                      "opslimit": TEST_KDF_COST.opslimit, "memlimit": TEST_KDF_COST.memlimit,
                      "wrap": b64(wrap_key(data_key, key))})
    content = {"team": "TIM-1", "kecamatan": {"kode": "61.09.04", "nama": "NANGA MAHAP"},
               "desa": [dict(d) for d in desa],
               "operators": [{"username": u, "nama": n} for u, n, _ in people]}
    return {
        "version": hashlib.sha256(canonical_json({"content": content,
                                                  "ops": [u for u, _, _ in people]})).hexdigest(),
        "server_time": "2026-11-29T00:00:00Z",
        "office_key": office_key_document(),
        "operators": wraps,
        "sealed": b64(datakey.encrypt_json(data_key, content)),
    }


def prepare_device(settings: Settings, *, operators: bool = True,
                   registered: bool = True, data_key: bytes = DATA_KEY) -> bytes:
    """A device as its last online contact left it: registered, with operators and desa and
    the office key; its data key (which the laptop itself never keeps: a PIN unwraps it)."""
    with FieldClient(settings=settings) as device:
        if registered:
            with device.outbox.atomic():
                for key, value in (
                    ("server_url", "http://127.0.0.1:9"),  # nothing listens: offline
                    ("device_id", "dev-1"),
                    ("token", "token-1"),
                    ("team", "TIM-1"),
                    ("device_name", "laptop-1"),
                ):
                    device.outbox.set_meta(key, value)
        profile.store(device.outbox, profile_document(data_key, operators=operators))
    return data_key


def token(client: FlaskClient, path: str = "/masuk") -> str:
    """The CSRF token of the session, read from a page."""
    page = client.get(path)
    found = _TOKEN.search(page.get_data(as_text=True))
    assert found, f"no CSRF token on {path} ({page.status_code})"
    return found.group(1)


def login(client: FlaskClient, pin: str = PIN, operator: str = OPERATOR) -> Any:
    """Log in through the form."""
    return client.post(
        "/masuk", data={"operator": operator, "pin": pin, "csrf_token": token(client)}
    )


def form_data(
    csrf: str,
    folder: Path,
    *,
    changes: Mapping[str, str] | None = None,
    skip_files: tuple[str, ...] = (),
    exceptions: Mapping[str, str] | None = None,
    action: str = "review",
    seed: int = 0,
) -> dict[str, Any]:
    """A complete enrollment form: card fields, fourteen files (or exceptions), the action."""
    data: dict[str, Any] = {"csrf_token": csrf, "action": action}
    data.update({key: str(value) for key, value in payload().items()})
    data.update(changes or {})
    files = biometric_files(folder, seed=seed, skip=skip_files)
    for role in BIOMETRIC_ROLES:
        if role in files:
            path = files[role]
            data[f"file_{role}"] = (BytesIO(path.read_bytes()), path.name)
    for role, reason in (exceptions or {}).items():
        assert role in EXCEPTABLE_ROLES
        data[f"exc_{role}"] = reason
    return data


def draft_id_from(location: str) -> str:
    """The draft id in a ``/draf/<id>/...`` address."""
    match = re.search(r"/draf/([^/]+)", location)
    assert match, location
    return match.group(1)


def store_visit_with_targets(settings: Settings, count: int = 3) -> str:
    """A visit running today with ``count`` targets on the device; its id."""
    import datetime as dt

    from field_client.store import records, targets
    from tests.support.targets import target, visit

    planned = visit(start=dt.date.today(), days=3)
    from shared.schemas import TargetListSchema

    answer = TargetListSchema().load({"visit": planned, "sealed": b64(datakey.encrypt_json(
        DATA_KEY, {"targets": [target(i + 1) for i in range(count)]}))})
    with FieldClient(settings=settings) as device, device.outbox.atomic():
        targets.store_visit(device.outbox, answer, records.utc_now())
    return str(planned["id"])
