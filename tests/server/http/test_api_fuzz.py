"""The API contract, fuzzed: schemathesis over ``/api/v1/openapi.json`` against the real app.

Every operation of the document gets up to 25 generated requests (derandomized: the same
requests on every run), with the credential its ``security`` names: a registered device's
token (and ``Jemput-Protocol: 2``) for the device API, an admin's API token for the office API,
nothing for the public routes. The database holds a small world first (records with a case, a
printed card, a Suket, a planned visit, blanks in stock) so answers have something in them.
Each answer must not be a 5xx, must have a status, a content type and a body the document
gives for that operation. SQLite only; about a minute on two cores.
"""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from server.accounts import devices, users
from server.accounts.actor import Actor
from server.cards import printing, suket
from server.core.extensions import dispose_engines
from server.outreach import visits as outreach
from server.review import decisions
from shared.protocol import TUS_OFFSET_STREAM
from tests.support.outreach import populate
from tests.support.records import DESA, add_residents, build_record, envelope, office_key
from tests.support.server_app import PROTOCOL, device_client, make_app
from tests.support.suket import add_stock

MAX_EXAMPLES = 25
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]
ADMIN = Actor("ayu", "admin")


def _document() -> dict[str, Any]:
    """The document, from a throw-away app (building it touches no database)."""
    scratch = Path(tempfile.mkdtemp(prefix="jemput-fuzz-doc-"))
    try:
        app = make_app(scratch, f"sqlite:///{scratch / 'doc.db'}")
        document: dict[str, Any] = app.test_client().get("/api/v1/openapi.json").json
        dispose_engines(app)
        return document
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


CONFIG = SchemathesisConfig.from_dict({
    "seed": 17,
    "phases": {"examples": {"enabled": False}, "coverage": {"enabled": False},
               "fuzzing": {"enabled": True}, "stateful": {"enabled": False}},
    "generation": {"mode": "positive", "max-examples": MAX_EXAMPLES, "deterministic": True,
                   "database": "none", "with-security-parameters": False},
})
schema = schemathesis.openapi.from_dict(_document(), config=CONFIG)
# tus PATCH bodies are bytes (the generator makes them from the binary schema).
schemathesis.serializer.alias(TUS_OFFSET_STREAM, "application/octet-stream")


@dataclass
class World:
    """The app under fuzzing and the credentials of both security schemes."""

    app: Flask
    device_token: str
    user_token: str
    ids: dict[str, str]

    def credentials(self, operation: dict[str, Any]) -> dict[str, str]:
        """The headers the operation's security asks for."""
        names = {name for requirement in operation.get("security", [])
                 for name in requirement}
        if "deviceToken" in names:
            return {"Authorization": f"Bearer {self.device_token}", **PROTOCOL}
        if "userToken" in names:
            return {"Authorization": f"Bearer {self.user_token}"}
        return {}


@pytest.fixture(scope="module")
def world(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """A SQLite app holding a little of everything, a device and an admin's API token."""
    instance = tmp_path_factory.mktemp("fuzz")
    shutil.copyfile(sqlite_template, instance / "jemput.db")
    app = make_app(instance, f"sqlite:///{instance / 'jemput.db'}")
    client = device_client(app)
    with app.app_context():
        code = devices.create_registration_code("TIM-1", ttl=dt.timedelta(hours=1))
    registered = client.post("/api/v1/devices", json={"code": code, "name": "laptop-1"})
    assert registered.status_code == 201, registered.json
    device_id, device_token = registered.json["device_id"], registered.json["token"]
    auth = {"Authorization": f"Bearer {device_token}"}
    populate(app)
    key = office_key(app)
    records = [build_record(seq, attachments=0, serial=7 if seq <= 2 else seq)
               for seq in range(1, 6)]
    add_residents(app, *records)
    pushed = client.post("/api/v1/sync/push", headers=auth,
                         json={"records": [envelope(record, key) for record in records]})
    assert pushed.status_code == 200, pushed.json
    add_stock(app, 5)
    with app.app_context():
        users.create_user(ADMIN.username, ADMIN.role)
        user_token = users.issue_api_token(ADMIN.username)
        for record in records[2:]:
            decisions.decide_record(record["id"], actor=ADMIN, action="approve", reason=None)
        printing.print_card(records[2]["id"], actor=ADMIN)
        issued = suket.issue(records[3]["id"], ADMIN, on_request=True)
        visit = outreach.create_visit(DESA, outreach.office_today() + dt.timedelta(days=3),
                                      "TIM-1", device_id, actor=ADMIN, days=2)
    ids = {"record_id": records[0]["id"], "case_id": "1", "visit_id": visit.id,
           "suket_id": str(issued.id)}
    yield World(app, device_token, user_token, ids)
    dispose_engines(app)


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, derandomize=True, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
def test_api_answers_as_documented(case: Any, world: World) -> None:
    """No 5xx; status, content type and body as the document says, for both schemes."""
    headers = world.credentials(case.operation.definition.raw)
    response = case.call(app=world.app, headers=headers)
    case.validate_response(response, checks=CHECKS, headers=headers)


#: GET operations with an id in their path, and the answer they give for the world's ids.
REAL_IDS = [("/api/v1/office/cases/{case_id}", 200), ("/api/v1/office/records/{record_id}", 200),
            ("/api/v1/office/outreach/visits/{visit_id}", 200),
            ("/api/v1/office/suket/{suket_id}", 200),
            ("/api/v1/outreach/visits/{visit_id}/targets", 200)]


@pytest.mark.parametrize(("path", "status"), REAL_IDS)
def test_real_objects_answer_as_documented(world: World, path: str, status: int) -> None:
    """Random ids are 404s; the world's own ids give full answers, checked the same way."""
    operation = schema[path]["GET"]
    names = [name for name in world.ids if "{" + name + "}" in path]
    case = operation.Case(path_parameters={name: world.ids[name] for name in names},
                          headers=dict(PROTOCOL) if "deviceToken" in str(
                              operation.definition.raw.get("security")) else {})
    headers = world.credentials(operation.definition.raw)
    response = case.call(app=world.app, headers=headers)
    assert response.status_code == status, response.text[:500]
    case.validate_response(response, checks=CHECKS, headers=headers)
