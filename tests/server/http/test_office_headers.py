"""Every office page carries the browser's security headers: each GET route under ``/office``
(found in the app's ``url_map``, its path filled with real ids) and the public ``/verify``, logged
out (redirects to the login page), logged in, with unknown ids, and as error pages (404, 405,
CSRF refusal, 500). Each answer has a strict Content-Security-Policy with
``frame-ancestors 'none'``, ``X-Frame-Options: DENY``, ``nosniff`` and a Referrer-Policy; each
HTML page holds no inline script, style or event handler the policy would block.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask, url_for
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from server.accounts import users
from server.accounts.actor import Actor
from server.cards import suket
from server.core.extensions import db, dispose_engines
from server.core.models import Case, Device
from server.review import decisions
from tests.support.office import csrf_token
from tests.support.office_scenario import office
from tests.support.outreach import plan, populate

ADMIN = Actor("admin", "admin")
BOOM = "/office/test-only-boom"
#: The directives every page's policy must have, exactly.
STRICT = {"default-src": "'self'", "object-src": "'none'", "base-uri": "'none'",
          "form-action": "'self'", "frame-ancestors": "'none'"}
#: A PDF the server made (the Suket): Chrome's viewer needs no content directives on it.
PDF = {"base-uri": "'none'", "form-action": "'self'", "frame-ancestors": "'none'"}
PDF_ENDPOINTS = {"suket.suket_pdf_file"}
INLINE = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>|<style\b|\sstyle=|\son[a-z]+=|javascript:",
                    re.IGNORECASE)


class Office:
    """The scenario's app, an admin's password and a real value for every path parameter."""

    def __init__(self, app: Flask, password: str, params: dict[str, str]) -> None:
        self.app, self.password, self.params = app, password, params

    def routes(self) -> list[tuple[str, str]]:
        """(endpoint, path) of every GET route under /office and /verify, filled with ids."""
        found = []
        with self.app.test_request_context():
            for rule in self.app.url_map.iter_rules():
                if "GET" not in (rule.methods or ()) or rule.endpoint == "test_boom" or \
                        not rule.rule.startswith(("/office", "/verify")):
                    continue
                missing = set(rule.arguments) - set(self.params)
                assert not missing, f"{rule.rule}: give {missing} a real value in this test"
                found.append((rule.endpoint, url_for(
                    rule.endpoint, **{name: self.params[name] for name in rule.arguments})))
        assert len(found) >= 19, found  # as many as on the day this test was written
        return found

    def unknown_ids(self) -> list[str]:
        """Each route with a path parameter, every parameter unknown."""
        with self.app.test_request_context():
            return [url_for(rule.endpoint, **dict.fromkeys(rule.arguments, "999999"))
                    for rule in self.app.url_map.iter_rules()
                    if "GET" in (rule.methods or ()) and rule.arguments
                    and rule.rule.startswith(("/office", "/verify"))]


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Office]:
    """Two records (photos, a resolved duplicate case), a Suket, a planned visit, an admin."""
    app, case_id, ids, _ = office(tmp_path_factory.mktemp("headers"))

    def boom() -> str:
        raise RuntimeError("a bug, for the 500 page")

    app.add_url_rule(BOOM, "test_boom", boom)
    populate(app)  # the visit's target list is not empty: its page draws the progress bar
    with app.app_context():
        device = db.session.execute(select(Device.id).order_by(Device.id)).scalars().first()
        assert device is not None
    visit_id = plan(app, device)
    with app.app_context():
        case = db.session.get(Case, case_id)
        assert case is not None
        decisions.resolve_case(case_id, actor=ADMIN, action="approve", version=case.version)
        issued = suket.issue(ids[0], ADMIN, on_request=True)
        password = users.create_user("kepala", "admin")
        params = {"case_id": str(case_id), "record_id": ids[0], "role": "photo",
                  "visit_id": visit_id, "suket_id": str(issued.id),
                  "token": suket.token_for(issued.id, issued.number)}
    yield Office(app, password, params)
    dispose_engines(app)


def _logged_in(scenario: Office) -> FlaskClient:
    client = scenario.app.test_client()
    answer = client.post("/office/login", data={
        "username": "kepala", "password": scenario.password, "csrf_token": csrf_token(client)})
    assert answer.status_code == 302, answer.get_data(as_text=True)[:300]
    return client


def _policy(header: str) -> dict[str, str]:
    directives = (part.strip().split(None, 1) for part in header.split(";") if part.strip())
    return {d[0].lower(): d[1] if len(d) > 1 else "" for d in directives}


def _flaws(name: str, answer: TestResponse, *, pdf: bool = False) -> list[str]:
    """What is wrong with the security headers (and inline code) of ``answer``."""
    headers, flaws = answer.headers, []
    policy = _policy(headers.get("Content-Security-Policy", ""))
    for directive, value in (PDF if pdf else STRICT).items():
        if policy.get(directive) != value:
            flaws.append(f"CSP {directive} is {policy.get(directive)!r}, not {value!r}")
    if not pdf:
        for directive in ("script-src", "style-src", "img-src"):
            if policy.get(directive, "'self'") != "'self'":
                flaws.append(f"CSP {directive} is {policy[directive]!r}")
    if "unsafe" in headers.get("Content-Security-Policy", ""):
        flaws.append("CSP allows something unsafe")
    if headers.get("X-Frame-Options") != "DENY":
        flaws.append(f"X-Frame-Options {headers.get('X-Frame-Options')!r}")
    if headers.get("X-Content-Type-Options") != "nosniff":
        flaws.append(f"X-Content-Type-Options {headers.get('X-Content-Type-Options')!r}")
    if headers.get("Referrer-Policy") not in ("same-origin", "no-referrer"):
        flaws.append(f"Referrer-Policy {headers.get('Referrer-Policy')!r}")
    if name.startswith("/office") and "no-store" not in headers.get("Cache-Control", ""):
        flaws.append(f"Cache-Control {headers.get('Cache-Control')!r}, not no-store")
    if answer.mimetype == "text/html":
        flaws += [f"inline code the CSP blocks: {m!r}"
                  for m in INLINE.findall(answer.get_data(as_text=True))]
    return [f"{name} ({answer.status_code}): {flaw}" for flaw in flaws]


def test_every_office_page_logged_in_carries_the_headers(scenario: Office) -> None:
    client = _logged_in(scenario)
    flaws: list[str] = []
    for endpoint, path in scenario.routes():
        answer = client.get(path)
        assert answer.status_code == 200, (path, answer.status_code)
        assert (answer.mimetype == "application/pdf") == (endpoint in PDF_ENDPOINTS), path
        if endpoint == "outreach.outreach_visit":  # a page that once had style attributes
            assert 'class="visit-bar"' in answer.get_data(as_text=True)
        flaws += _flaws(path, answer, pdf=endpoint in PDF_ENDPOINTS)
    assert not flaws, "\n".join(flaws)


def test_every_office_page_logged_out_carries_the_headers(scenario: Office) -> None:
    client = scenario.app.test_client()
    flaws: list[str] = []
    statuses = set()
    for _, path in scenario.routes():
        answer = client.get(path)
        statuses.add(answer.status_code)
        if path.startswith("/office") and path != "/office/login":
            assert answer.status_code == 302, (path, answer.status_code)
            assert answer.location.startswith("/office/login"), answer.location
        flaws += _flaws(path, answer)
    assert statuses == {200, 302}
    assert not flaws, "\n".join(flaws)


def test_error_pages_and_the_rest_a_browser_opens_carry_the_headers(scenario: Office) -> None:
    client = _logged_in(scenario)
    checked: list[tuple[str, Any]] = [(path, client.get(path)) for path in
                                      scenario.unknown_ids()]
    assert all(answer.status_code == 404 for _, answer in checked), \
        [(path, answer.status_code) for path, answer in checked]
    json_404 = client.get("/office/no-such-page", headers={"Accept": "application/json"})
    assert json_404.mimetype == "application/problem+json"
    checked += [
        ("/office/no-such-page", client.get("/office/no-such-page")),
        ("/office/no-such-page as JSON", json_404),
        ("GET /office/logout", client.get("/office/logout")),
        ("POST without CSRF", client.post("/office/logout")),
        ("/verify/forged", client.get("/verify/1.forgedtokenforgedtoken")),
        ("500", client.get(BOOM, headers={"Accept": "text/html"})),
        ("/", client.get("/", headers={"Accept": "text/html"})),
        ("/static/office.css", client.get("/static/office.css")),
    ]
    statuses = [answer.status_code for _, answer in checked[-8:]]
    assert statuses == [404, 404, 405, 400, 404, 500, 302, 200], statuses
    flaws = [flaw for path, answer in checked for flaw in _flaws(path, answer)]
    assert not flaws, "\n".join(flaws)


def test_verify_keeps_its_own_no_referrer(scenario: Office) -> None:
    answer = scenario.app.test_client().get(f"/verify/{scenario.params['token']}")
    assert answer.status_code == 200
    assert answer.headers["Referrer-Policy"] == "no-referrer"
    assert answer.headers.get_all("Referrer-Policy") == ["no-referrer"]


def test_the_json_api_is_left_alone(scenario: Office) -> None:
    answer = scenario.app.test_client().get("/api/v1/openapi.json")
    assert answer.status_code == 200
    assert "Content-Security-Policy" not in answer.headers

