"""The OpenAPI document describes every operation of the JSON API, and nothing else.

Every JSON route of the app's url_map has an operation with its security (one of the two
schemes, or none for a public one), a response schema for what it answers and problem+json
error answers: no bare "200 OK" is left. The office's HTML pages are not in the document.
(``test_api_fuzz.py`` checks that the server answers as the document says.)
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from server.http import openapi
from shared.protocol import API_PREFIX, PROBLEM_MEDIA_TYPE, PROTOCOL_HEADER

OFFICE_API = f"{API_PREFIX}/office/"
#: Answers without a body, by design: tus (headers only), a redirect, "not modified".
BODYLESS = {("options", "204"), ("head", "200"), ("post", "201"), ("patch", "204"),
            ("delete", "204"), ("get", "302"), ("get", "304")}


@pytest.fixture
def document(client: FlaskClient) -> dict[str, Any]:
    answer = client.get("/api/v1/openapi.json")
    assert answer.status_code == 200
    return dict(answer.json)


def _json_routes(app: Flask) -> list[tuple[str, str, str]]:
    """(path as in the document, method, endpoint) of every JSON route."""
    found = []
    for rule in app.url_map.iter_rules():
        if not openapi.in_json_api(rule.rule):
            continue
        path = rule.rule.replace("<", "{").replace(">", "}")
        methods = set(rule.methods or ()) - {"HEAD", "OPTIONS"}
        if rule.endpoint == "uploads.upload":
            methods = {"HEAD"}
        if rule.endpoint == "uploads.options":
            methods = {"OPTIONS"}
        found += [(path, method.lower(), rule.endpoint) for method in methods]
    return found


@pytest.mark.parametrize("app", ["sqlite"], indirect=True)
def test_every_json_route_is_described(app: Flask, document: dict[str, Any]) -> None:
    routes = _json_routes(app)
    assert len(routes) >= 40
    for path, method, endpoint in routes:
        operation = document["paths"].get(path, {}).get(method)
        assert operation is not None, f"{method.upper()} {path} ({endpoint}) is not described"
        assert openapi.UNDESCRIBED not in operation, f"{method.upper()} {path} is bare"
        where = f"{method.upper()} {path}"
        responses = operation["responses"]
        successes = [status for status in responses if status.startswith("2")]
        assert successes, where
        for status, response in responses.items():
            if (method, status) in BODYLESS and "content" not in response:
                continue
            assert response.get("content"), f"{where} {status} has no schema"
            for media_type, body in response["content"].items():
                assert body.get("schema"), f"{where} {status} {media_type}"
                if media_type == "application/json":
                    schema = body["schema"]
                    assert "$ref" in schema or schema.get("properties"), f"{where} {status}"
        errors = {status for status in responses if status[0] in "45"}
        if errors:
            for status in errors:
                assert PROBLEM_MEDIA_TYPE in responses[status].get("content", {}), \
                    f"{where} {status} is not problem+json"
        security = operation.get("security")
        assert security is not None, f"{where} names no security"
        names = {name for requirement in security for name in requirement}
        parameters = {p["name"] for p in operation.get("parameters", [])}
        if path.startswith(OFFICE_API):
            assert names == {"userToken"}, where
            assert "401" in responses, where
        elif names:
            assert names == {"deviceToken"}, where
            assert {"401", "426"} <= set(responses), where
            assert PROTOCOL_HEADER in parameters, where
        else:
            assert path in {"/", "/healthz", "/readyz", "/verify/{token}", "/api/v1/openapi.json",
                            "/api/v1/devices", "/api/v1/uploads", "/api/v1/uploads/{upload_id}"}, \
                f"{where} is public"
        if "requestBody" in operation:
            assert {"400", "413"} & set(responses), f"{where}: a bad body's answer"
        if any(p["in"] == "path" for p in operation.get("parameters", [])):
            assert "404" in responses or method == "options", f"{where}: an unknown id"
        if method in {"post", "patch", "delete"} and path.startswith(OFFICE_API):
            assert "403" in responses, f"{where}: the role that may not"


@pytest.mark.parametrize("app", ["sqlite"], indirect=True)
def test_both_security_schemes_and_no_default(document: dict[str, Any]) -> None:
    schemes = document["components"]["securitySchemes"]
    assert schemes["deviceToken"] == {**schemes["deviceToken"], "type": "http",
                                      "scheme": "bearer"}
    assert schemes["userToken"] == {**schemes["userToken"], "type": "http", "scheme": "bearer"}
    assert "security" not in document  # each operation names its own
    pull = document["paths"]["/api/v1/sync/pull"]["get"]
    assert pull["security"] == [{"deviceToken": []}]
    assert "since" in {p["name"] for p in pull["parameters"]}
    cases = document["paths"]["/api/v1/office/cases"]["get"]
    assert cases["security"] == [{"userToken": []}]
    assert document["paths"]["/healthz"]["get"]["security"] == []


@pytest.mark.parametrize("app", ["sqlite"], indirect=True)
def test_office_pages_are_left_out(app: Flask, document: dict[str, Any]) -> None:
    pages = {rule.rule for rule in app.url_map.iter_rules() if rule.rule.startswith("/office")}
    assert pages and not any(path.startswith("/office") for path in document["paths"])
    assert not any(path.startswith("/static") for path in document["paths"])


@pytest.mark.parametrize("app", ["sqlite"], indirect=True)
def test_domain_schemas_are_components(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    for name in ("Record", "Problem", "Dashboard", "CaseView", "RecordView", "Coverage",
                 "VisitProgress", "Stock", "PrintQueue", "SuketPage", "EntryRequest",
                 "ResolveRequest", "VisitRequest", "Verification"):
        assert name in schemas, name
    body = document["paths"]["/api/v1/office/blanko/entries"]["post"]["requestBody"]
    assert body["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/EntryRequest"}
    assert schemas["EntryRequest"]["additionalProperties"] is False  # Meta.unknown = RAISE
