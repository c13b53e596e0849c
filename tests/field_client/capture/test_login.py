"""Offline PIN login on the field laptop: the PIN unwraps the data key (no PIN hash kept), and a
lock per operator that escalates (5, 15, 60 minutes) and survives a restart."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from dataclasses import replace
from typing import Any

import pytest
from werkzeug.wrappers import Response

from field_client.capture import login
from field_client.client import FieldClient
from field_client.config import Settings
from field_client.errors import (
    LoginLocked,
    LoginRefused,
    NetworkUnavailable,
    NoOperators,
    ProfileUnsafe,
)
from field_client.store import profile
from field_client.store.outbox import Outbox
from field_client.sync.transport import Transport
from shared import datakey
from shared.pin import KDF_COST, KdfCost, derive_key, new_salt, wrap_key
from shared.sealing import b64
from tests.support.fakes import WsgiAdapter
from tests.support.field_ui import OPERATOR, OTHER_PIN, PIN, profile_document

NOW = dt.datetime(2026, 11, 27, 3, 0, tzinfo=dt.UTC)
WRONG = "00000001"


def give_operators(outbox: Outbox) -> bytes:
    data_key = datakey.new_data_key()
    profile.store(outbox, profile_document(data_key))
    return data_key


def test_no_operators_yet(outbox: Outbox) -> None:
    with pytest.raises(NoOperators) as caught:
        login.login(outbox, OPERATOR, PIN, now=NOW, allow_test_cost=True)
    assert caught.value.message == (
        "Belum ada daftar operator di laptop ini. Sambungkan ke jaringan dan sinkronkan sekali."
    )


def test_the_right_pin_unwraps_the_data_key_and_clears_the_count(outbox: Outbox) -> None:
    data_key = give_operators(outbox)
    with pytest.raises(LoginRefused):
        login.login(outbox, OPERATOR, WRONG, now=NOW, allow_test_cost=True)
    who = login.login(outbox, f" {OPERATOR.upper()} ", PIN, now=NOW, allow_test_cost=True)
    assert (who.username, who.nama, who.data_key) == (OPERATOR, "Suryadi", data_key)
    assert login.lock_state(outbox, OPERATOR, NOW) == {"failures": 0, "locked_until": None}
    other = login.login(outbox, "op.maria", OTHER_PIN, now=NOW, allow_test_cost=True)
    assert other.data_key == data_key  # every operator's wrap holds the one device key


@pytest.mark.parametrize(
    ("username", "pin"),
    [(OPERATOR, WRONG), ("op.tidakada", PIN), ("op.maria", PIN), ("", PIN),
     (OPERATOR, PIN[:7]), (OPERATOR, PIN[:7] + "O"), (OPERATOR, f"{PIN}\n"), (OPERATOR, None)],
)
def test_a_wrong_pin_and_an_unknown_username_get_the_same_answer(
    outbox: Outbox, username: str, pin: str
) -> None:
    give_operators(outbox)
    with pytest.raises(LoginRefused) as caught:
        login.login(outbox, username, pin, now=NOW, allow_test_cost=True)
    assert caught.value.message == "Operator atau PIN salah. Sisa percobaan: 4."
    assert caught.value.remaining == 4
    assert login.lock_state(outbox, username or "", NOW) == {"failures": 1, "locked_until": None}
    assert profile.usernames(outbox) == ["op.maria", OPERATOR]  # nothing else changed


def test_an_unknown_username_costs_a_derivation_like_a_wrong_pin(outbox: Outbox) -> None:
    data_key = datakey.new_data_key()
    document = profile_document(data_key, operators=False)
    cost = KdfCost(opslimit=2, memlimit=32 * 1024 * 1024)  # measurable, not slow
    salt = new_salt()
    document["operators"] = [{"username": OPERATOR, "salt": b64(salt), "opslimit": cost.opslimit,
                              "memlimit": cost.memlimit,
                              "wrap": b64(wrap_key(data_key, derive_key(PIN, salt, cost)))}]
    profile.store(outbox, document)

    def timed(username: str) -> float:
        outbox.execute("DELETE FROM login_lock")  # no lock in this measurement
        start = time.perf_counter()
        with pytest.raises(LoginRefused):
            login.login(outbox, username, WRONG, now=NOW, allow_test_cost=True)
        return time.perf_counter() - start

    known = min(timed(OPERATOR) for _ in range(3))
    unknown = min(timed("op.tidakada") for _ in range(3))
    assert unknown > known * 0.5  # both pay for a full Argon2id derivation


def test_the_lock_is_per_operator_and_escalates(outbox: Outbox) -> None:
    give_operators(outbox)

    def wrong(at: dt.datetime) -> None:
        login.login(outbox, OPERATOR, WRONG, now=at, allow_test_cost=True)

    moment = NOW
    for minutes in (5, 15, 60, 60):
        for remaining in (4, 3, 2, 1):
            with pytest.raises(LoginRefused, match=f"Sisa percobaan: {remaining}\\."):
                wrong(moment)
        with pytest.raises(LoginLocked) as caught:
            wrong(moment)
        until = moment + dt.timedelta(minutes=minutes)
        assert caught.value.until == until
        assert caught.value.message == (
            f"Terlalu banyak PIN salah. Coba lagi pukul {until.astimezone():%H:%M}."
        )
        almost = until - dt.timedelta(seconds=1)
        with pytest.raises(LoginLocked):  # the right PIN is not even tried
            login.login(outbox, OPERATOR, PIN, now=almost, allow_test_cost=True)
        # Another operator of the same laptop is not locked by it.
        assert login.login(outbox, "op.maria", OTHER_PIN, now=almost,
                           allow_test_cost=True).username == "op.maria"
        moment = until
    assert login.login(outbox, OPERATOR, PIN, now=moment, allow_test_cost=True)
    # A right PIN ends the escalation: the next lock is 5 minutes again.
    for _ in range(4):
        with pytest.raises(LoginRefused):
            wrong(moment)
    with pytest.raises(LoginLocked) as caught:
        wrong(moment)
    assert caught.value.until == moment + dt.timedelta(minutes=5)


def test_the_lock_survives_a_restart(settings: Settings) -> None:
    with FieldClient(settings=settings) as client:
        give_operators(client.outbox)
        for _ in range(5):
            with pytest.raises((LoginRefused, LoginLocked)):
                client.login(OPERATOR, WRONG)
    with FieldClient(settings=settings) as again, pytest.raises(LoginLocked):
        again.login(OPERATOR, PIN)


def test_parallel_guesses_are_each_counted(settings: Settings) -> None:
    with FieldClient(settings=settings) as client:
        give_operators(client.outbox)
    outcomes: list[str] = []

    def guess() -> None:
        with FieldClient(settings=settings) as device:
            try:
                device.login(OPERATOR, WRONG)
            except LoginLocked:
                outcomes.append("locked")
            except LoginRefused:
                outcomes.append("refused")

    threads = [threading.Thread(target=guess) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("refused") == 4 and outcomes.count("locked") == 4


def test_a_profile_asking_for_a_cheaper_derivation_is_refused(outbox: Outbox) -> None:
    give_operators(outbox)  # wraps at the test cost, which a field laptop does not accept
    with pytest.raises(ProfileUnsafe) as caught:
        login.login(outbox, OPERATOR, PIN, now=NOW, allow_test_cost=False)
    assert "di bawah batas aman" in caught.value.message
    assert login.lock_state(outbox, OPERATOR)["failures"] == 0  # not counted as a wrong PIN
    assert KDF_COST.memlimit >= 64 * 1024 * 1024  # the floor: 64 MiB a guess


def test_the_transport_refuses_a_cheap_profile(settings: Settings) -> None:
    answer = json.dumps(profile_document(datakey.new_data_key()))

    def app(environ: Any, start_response: Any) -> Any:
        return Response(answer, mimetype="application/json")(environ, start_response)

    strict = replace(settings, allow_test_kdf=False)
    with Transport("http://fake.invalid", strict, "t", adapter=WsgiAdapter(app)) as link, \
            pytest.raises(NetworkUnavailable, match="di bawah batas aman"):
        link.profile(None)
    with Transport("http://fake.invalid", settings, "t", adapter=WsgiAdapter(app)) as link:
        assert link.profile(None) is not None
