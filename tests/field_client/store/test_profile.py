"""The device profile on the field client: stored whole, fetched on sync and after registering."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.wrappers import Request, Response

from field_client.client import FieldClient
from field_client.config import Settings
from field_client.errors import NetworkUnavailable, ServerRefused
from field_client.store import profile
from field_client.store.migrations import SCHEMA_VERSION
from field_client.store.outbox import Outbox, open_outbox
from field_client.sync.transport import Transport
from shared import datakey
from shared.datakey import DataKeyError
from shared.sealing import unb64
from tests.field_client.store.legacy import old_outbox
from tests.support.fakes import FakeServer, WsgiAdapter, registered_client
from tests.support.field_ui import OPERATOR, PIN, profile_document
from tests.support.live_server import add_operator
from tests.support.targets import OutreachServer, outreach_client, target

DK = datakey.new_data_key()


def document(
    *usernames: str, desa: Iterable[tuple[str, str]] = (("61.09.04.2006", "TEMBAGA"),),
    data_key: bytes = DK,
) -> dict[str, Any]:
    """A DeviceProfileSchema answer for ``usernames`` (all with PIN), under ``data_key``."""
    return profile_document(
        data_key, people=[(u, u.upper(), PIN) for u in usernames],
        desa=[{"kode": k, "nama": n} for k, n in desa],
    )


@pytest.fixture
def server() -> FakeServer:
    return FakeServer()


@pytest.fixture
def client(settings: Settings, server: FakeServer) -> Iterator[FieldClient]:
    with registered_client(settings, server) as made:
        yield made


def test_store_replaces_the_whole_profile(outbox: Outbox) -> None:
    first = document("op.a", "Op.B")
    profile.store(outbox, first, now="2026-11-27T03:00:00Z")
    assert profile.usernames(outbox) == ["op.a", "op.b"]
    assert profile.content(outbox, DK)["operators"] == [
        {"username": "op.a", "nama": "OP.A"}, {"username": "Op.B", "nama": "OP.B"}
    ]
    found = profile.operator_key(outbox, " OP.B ")
    assert found is not None and found[2] == unb64(first["operators"][1]["wrap"])
    assert profile.operator_key(outbox, "x") is None
    newer = document("op.c", desa=[("61.09.04.2001", "A"), ("61.09.04.2002", "B")])
    profile.store(outbox, newer, now="2026-11-28T03:00:00Z")
    assert profile.usernames(outbox) == ["op.c"]
    assert [d["kode"] for d in profile.desa_choices(outbox, DK)] == ["61.09.04.2001",
                                                                      "61.09.04.2002"]
    assert profile.summary(outbox) == {
        "version": newer["version"], "fetched_at": "2026-11-28T03:00:00Z", "operators": 1,
    }


def test_the_profile_rests_under_the_data_key(outbox: Outbox) -> None:
    profile.store(outbox, document("op.a", desa=[("61.09.04.2001", "SEBABAS")]))
    with pytest.raises(DataKeyError):
        profile.content(outbox, datakey.new_data_key())
    stored = " ".join(str(v) for v in outbox.meta().values())
    assert "SEBABAS" not in stored and "OP.A" not in stored and "TIM-1" not in stored


def test_a_failed_store_keeps_the_old_profile(outbox: Outbox) -> None:
    profile.store(outbox, document("op.a"))
    broken = document("op.b")
    del broken["operators"][0]["wrap"]  # the insert fails half-way
    with pytest.raises(KeyError):
        profile.store(outbox, broken)
    assert profile.usernames(outbox) == ["op.a"]
    assert profile.summary(outbox)["version"] == document("op.a")["version"]


def test_sync_fetches_the_profile_and_then_asks_with_its_version(
    client: FieldClient, server: FakeServer
) -> None:
    assert client.profile_summary()["version"] is None and client.operators() == []
    server.device_profile = document("op.a")
    report = client.sync()
    assert report.profile_updated and report.profile_error is None
    assert client.operators() == ["op.a"]
    assert client.status()["profile"]["operators"] == 1
    assert client.login("op.a", PIN).username == "op.a"

    report = client.sync()
    assert not report.profile_updated
    assert server.profile_etags == [None, server.device_profile["version"]]
    assert report.as_dict()["profile_updated"] is False


@pytest.mark.parametrize(
    "error",
    [
        lambda: NetworkUnavailable("putus (fake)"),
        lambda: ServerRefused("tidak ada (fake)", status=404, code="not_found"),
    ],
)
def test_a_profile_that_cannot_be_fetched_is_only_a_warning(
    client: FieldClient, server: FakeServer, error: Any
) -> None:
    server.device_profile = document("op.a")
    client.sync()
    server.device_profile = document("op.b")
    server.profile_error = error
    report = client.sync()
    assert report.profile_error and "Profil perangkat" in report.profile_error
    assert not report.profile_updated and report.done
    assert client.operators() == ["op.a"]  # the old one stays
    assert client.status()["last_sync_error"] is None


def profile_transport(settings: Settings, answer: Any, status: int = 200) -> Transport:
    """The real transport against a tiny app answering the profile endpoint."""
    seen: list[str | None] = []

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        seen.append(request.headers.get("If-None-Match"))
        body = answer if isinstance(answer, str) else json.dumps(answer)
        return Response(body, status=status, mimetype="application/json")(environ, start_response)

    made = Transport("http://fake.invalid", settings, "t0ken", adapter=WsgiAdapter(app))
    made.seen = seen  # type: ignore[attr-defined]
    return made


def test_the_transport_checks_the_answer(settings: Settings) -> None:
    good = document("op.a")
    with profile_transport(settings, good) as link:
        assert link.profile("abc")["operators"][0]["username"] == "op.a"
        assert link.seen == ['"abc"']  # type: ignore[attr-defined]
    with profile_transport(settings, "", status=304) as link:
        assert link.profile(good["version"]) is None
    for bad in (good | {"version": "x"}, {"operators": []}, good | {"sealed": ""},
                good | {"office_key": {"kid": "k"}}, "<html>portal</html>"):
        with profile_transport(settings, bad) as link, pytest.raises(NetworkUnavailable):
            link.profile(None)


def test_desa_choices_add_the_visits_desa(settings: Settings) -> None:
    server = OutreachServer(
        device_profile=document(OPERATOR, desa=[("61.09.04.2001", "NANGA MAHAP")]))
    server.assign([target(1)])
    with outreach_client(settings, server) as made:
        made.sync()
        assert made.desa_choices(DK) == [
            {"kode": "61.09.04.2001", "nama": "NANGA MAHAP"},
            {"kode": "61.09.04.2006", "nama": "TEMBAGA"},
        ]


def test_an_outbox_of_schema_5_gains_the_tables_and_keeps_its_data(settings: Settings) -> None:
    old = old_outbox(settings.outbox_path, 5)
    old.execute("INSERT INTO meta (key, value) VALUES ('team', 'TIM-1')")
    old.execute(
        "INSERT INTO record (id, seq, state, body, record_sha256, operator, captured_at, "
        "created_at, updated_at) VALUES ('r1', 1, 'ready', '{}', 'x', 'op', 't', 't', 't')"
    )
    old.close()
    with open_outbox(settings.outbox_path) as upgraded:
        assert upgraded.scalar("PRAGMA user_version") == SCHEMA_VERSION
        assert upgraded.get_meta("team") == "TIM-1"
        assert upgraded.scalar("SELECT id FROM record") == "r1"
        # Kept as it was until the upgrade seals it; nothing syncs before.
        assert upgraded.scalar("SELECT legacy_body FROM record") == "{}"
        assert upgraded.get_meta("upgrade_pending") == "1"
        profile.store(upgraded, document("op.a"))
        assert upgraded.scalar("SELECT count(*) FROM draft") == 0
        assert profile.usernames(upgraded) == ["op.a"]


def test_an_outbox_of_schema_6_forgets_its_pin_hashes(settings: Settings) -> None:
    old = old_outbox(settings.outbox_path, 6)
    old.execute("INSERT INTO meta (key, value) VALUES ('profile_version', 'v-old')")
    old.execute("INSERT INTO operator VALUES ('op.a', 'A', 'pbkdf2_sha256$1$x$y')")
    old.close()
    with open_outbox(settings.outbox_path) as upgraded:
        assert upgraded.scalar("PRAGMA user_version") == SCHEMA_VERSION
        tables = {row["name"] for row in upgraded.rows("SELECT name FROM sqlite_master")}
        assert "operator" not in tables and {"operator_key", "login_lock"} <= tables
        assert upgraded.get_meta("profile_version") is None  # the next sync fetches it whole


# -- with the real server -------------------------------------------------------------------


def test_registering_fetches_the_profile_and_a_new_registration_drops_it(
    home: Path, live_server: Any
) -> None:
    pin = add_operator(live_server, "op.siti", "TIM-1")
    with FieldClient(settings=Settings(allow_test_kdf=True, home=home)) as client:
        assert not client.server_reachable()  # not registered yet
        client.register(live_server.url, live_server.registration_code("TIM-1"))
        assert client.operators() == ["op.siti"]
        session = client.login("OP.SITI", pin)
        assert (session.username, session.nama) == ("op.siti", "Siti Operator")
        assert client.server_reachable()
        version = client.profile_summary()["version"]
        assert not client.sync().profile_updated  # 304: unchanged
        assert client.profile_summary()["version"] == version

        client.register(live_server.url, live_server.registration_code("TIM-2"), force=True)
        assert client.operators() == [] and client.profile_summary()["version"] is not None


def test_a_profile_failure_after_registering_leaves_the_registration(
    home: Path, live_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: Transport, etag: str | None) -> None:
        raise NetworkUnavailable("putus (test)")

    monkeypatch.setattr(Transport, "profile", broken)
    with FieldClient(settings=Settings(allow_test_kdf=True, home=home)) as client:
        client.register(live_server.url, live_server.registration_code("TIM-1"))
        assert client.status()["registered"] and client.profile_summary()["version"] is None


def test_server_reachable_is_false_when_the_server_is_not_there(home: Path) -> None:
    with FieldClient(settings=Settings(allow_test_kdf=True, home=home)) as client:
        with client.outbox.atomic():
            client.outbox.set_meta("server_url", "http://127.0.0.1:9")
            client.outbox.set_meta("token", "t0ken")
        assert client.server_reachable(timeout=0.5) is False
