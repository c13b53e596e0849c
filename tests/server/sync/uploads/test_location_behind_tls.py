"""The tus ``Location`` behind a TLS proxy: a creation answers a relative ``Location``
(``/api/v1/uploads/<id>``), which the field client resolves against the https URL it posted to
and follows (it follows only the origin it registered with). Whether the proxy is trusted
(``JEMPUT_TRUSTED_PROXIES``) and what it forwards (``X-Forwarded-Proto``, the host) cannot send
the client elsewhere."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask

from field_client.sync.tus import resolve_location, same_origin
from server.core.extensions import dispose_engines
from tests.support.records import OfficeKey
from tests.support.server_app import PROTOCOL, make_app
from tests.support.uploads import BASE, TUS, metadata_of, seal_file

PROXY = "10.0.0.7"


@pytest.fixture
def behind_proxy(app: Flask) -> Iterator[Flask]:
    """The same server (database, instance folder, key ring) with its proxy trusted."""
    url = str(app.config["SQLALCHEMY_DATABASE_URI"])
    behind = make_app(Path(app.instance_path), url, JEMPUT_TRUSTED_PROXIES=PROXY)
    yield behind
    dispose_engines(behind)


@pytest.mark.parametrize(("host", "origin"), [
    ("jemput.example.go.id", "https://jemput.example.go.id"),
    ("jemput.example.go.id:8443", "https://jemput.example.go.id:8443"),
])
@pytest.mark.parametrize("peer", [PROXY, "10.0.0.8"], ids=["trusted proxy", "anyone else"])
def test_the_location_is_followed_on_the_origin_the_client_used(
    behind_proxy: Flask, register: Callable[..., tuple[str, str]], sealing_key: OfficeKey,
    host: str, origin: str, peer: str,
) -> None:
    _, token = register()
    client = behind_proxy.test_client()
    forwarded = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https",
                 "X-Forwarded-Host": host}
    headers = {**TUS, **PROTOCOL, **forwarded, "Authorization": f"Bearer {token}"}
    file = seal_file(sealing_key, os.urandom(2_000))
    answer = client.post(BASE, environ_base={"REMOTE_ADDR": peer}, headers={
        **headers, "Upload-Length": str(file.length), "Upload-Metadata": metadata_of(file)})
    assert answer.status_code == 201, answer.get_data(as_text=True)
    location = answer.headers["Location"]
    upload_id = location.rsplit("/", 1)[1]
    # Neither the forwarded scheme and host nor the server's own name is in it.
    assert location == f"/api/v1/uploads/{upload_id}"
    # The field client posted to the https origin it registered with: it follows this Location.
    followed = resolve_location(f"{origin}/api/v1/uploads", location)
    assert followed == f"{origin}/api/v1/uploads/{upload_id}"
    assert same_origin(followed, origin)
    status = client.head(followed.removeprefix(origin), headers=headers,
                         environ_base={"REMOTE_ADDR": peer})
    assert status.status_code == 200 and status.headers["Upload-Offset"] == "0"
