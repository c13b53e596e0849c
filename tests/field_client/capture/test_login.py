"""Offline PIN login on the field laptop: hashes from the profile, a lockout that persists."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from field_client.capture import login
from field_client.client import FieldClient
from field_client.config import Settings
from field_client.errors import LoginLocked, LoginRefused, NoOperators
from field_client.store import profile
from field_client.store.outbox import Outbox
from shared.pin import hash_pin

PIN = "246810"
OTHER = "135791"
NOW = dt.datetime(2026, 11, 27, 3, 0, tzinfo=dt.UTC)


def give_operators(outbox: Outbox, n: int = 1000) -> None:
    profile.store(
        outbox,
        {
            "version": "a" * 64,
            "team": "TIM-1",
            "kecamatan": None,
            "desa": [],
            "operators": [
                {"username": "op.siti", "nama": "Siti", "pin_hash": hash_pin(PIN, iterations=n)},
                {"username": "op.budi", "nama": "Budi", "pin_hash": hash_pin(OTHER, iterations=n)},
            ],
        },
    )


def meta(outbox: Outbox) -> tuple[str | None, str | None]:
    return outbox.get_meta(login.FAILURES_META), outbox.get_meta(login.LOCKED_UNTIL_META)


def test_no_operators_yet(outbox: Outbox) -> None:
    with pytest.raises(NoOperators) as caught:
        login.login(outbox, "op.siti", PIN, NOW)
    assert caught.value.message == (
        "Belum ada daftar operator di laptop ini. Sambungkan ke jaringan dan sinkronkan sekali."
    )
    assert meta(outbox) == (None, None)


def test_the_right_pin_lets_in_and_resets_the_count(outbox: Outbox) -> None:
    give_operators(outbox)
    with pytest.raises(LoginRefused):
        login.login(outbox, "op.siti", "000000", NOW)
    assert login.login(outbox, " OP.Siti ", PIN, NOW) == {"username": "op.siti", "nama": "Siti"}
    assert login.lock_state(outbox, NOW) == {"failures": 0, "locked_until": None}


@pytest.mark.parametrize(
    ("username", "pin"),
    [("op.siti", "000001"), ("op.tidakada", PIN), ("op.budi", PIN), ("", PIN),
     ("op.siti", "24681"), ("op.siti", "24681O"), ("op.siti", f"{PIN}\n"), ("op.siti", None)],
)
def test_a_wrong_pin_and_an_unknown_username_get_the_same_answer(
    outbox: Outbox, username: str, pin: str
) -> None:
    give_operators(outbox)
    with pytest.raises(LoginRefused) as caught:
        login.login(outbox, username, pin, NOW)
    assert caught.value.message == "Operator atau PIN salah. Sisa percobaan: 4."
    assert caught.value.remaining == 4
    assert login.lock_state(outbox, NOW) == {"failures": 1, "locked_until": None}
    assert profile.operators(outbox)[0]["username"] == "op.budi"  # nothing else changed


def test_an_unknown_username_costs_as_much_time_as_a_wrong_pin(outbox: Outbox) -> None:
    give_operators(outbox, n=200_000)

    def timed(username: str) -> float:
        with outbox.atomic():
            outbox.set_meta(login.FAILURES_META, None)  # no lockout in this measurement
        start = time.perf_counter()
        with pytest.raises(LoginRefused):
            login.login(outbox, username, "000001", NOW)
        return time.perf_counter() - start

    timed("op.tidakada")  # the dummy hash is made once
    known = min(timed("op.siti") for _ in range(2))
    unknown = min(timed("op.tidakada") for _ in range(2))
    assert unknown > known * 0.5  # both pay for a full PBKDF2 verify


def test_five_wrong_pins_lock_and_even_the_right_one_waits(outbox: Outbox) -> None:
    give_operators(outbox)
    for remaining in (4, 3, 2, 1):
        with pytest.raises(LoginRefused, match=f"Sisa percobaan: {remaining}\\."):
            login.login(outbox, "op.siti", "000001", NOW)
    with pytest.raises(LoginLocked) as caught:
        login.login(outbox, "op.siti", "000001", NOW)
    until = NOW + login.LOCKOUT
    assert caught.value.until == until
    assert caught.value.message == (
        f"Terlalu banyak PIN salah. Coba lagi pukul {until.astimezone():%H:%M}."
    )
    locked = {"failures": 5, "locked_until": "2026-11-27T03:05:00Z"}
    assert login.lock_state(outbox, NOW) == locked
    later = NOW + dt.timedelta(minutes=4, seconds=59)
    with pytest.raises(LoginLocked):
        login.login(outbox, "op.siti", PIN, later)  # the right PIN is not even checked
    assert login.lock_state(outbox, later) == locked

    after = NOW + login.LOCKOUT
    assert login.lock_state(outbox, after) == {"failures": 0, "locked_until": None}
    with pytest.raises(LoginRefused, match="Sisa percobaan: 4\\."):
        login.login(outbox, "op.siti", "000001", after)  # a fresh set of tries
    assert login.login(outbox, "op.siti", PIN, after)["username"] == "op.siti"


def test_the_lockout_survives_a_restart(settings: Settings) -> None:
    with FieldClient(settings=settings) as client:
        give_operators(client.outbox)
        for _ in range(3):
            with pytest.raises(LoginRefused):
                client.login("op.siti", "000001")
    with FieldClient(settings=settings) as client:
        assert client.lock_state()["failures"] == 3
        for _ in range(2):
            with pytest.raises((LoginRefused, LoginLocked)):
                client.login("op.siti", "000001")
    with FieldClient(settings=settings) as client:
        assert client.lock_state()["locked_until"] is not None
        with pytest.raises(LoginLocked, match="Coba lagi pukul"):
            client.login("op.siti", PIN)


def test_a_damaged_counter_grants_no_more_than_one_try(outbox: Outbox) -> None:
    give_operators(outbox)
    with outbox.atomic():
        outbox.set_meta(login.FAILURES_META, "banyak")
    with pytest.raises(LoginLocked):
        login.login(outbox, "op.siti", "000001", NOW)


def test_after_a_lock_ran_out_five_more_wrong_pins_lock_again(outbox: Outbox) -> None:
    give_operators(outbox)
    for _ in range(4):
        with pytest.raises(LoginRefused):
            login.login(outbox, "op.siti", "000001", NOW)
    with pytest.raises(LoginLocked):
        login.login(outbox, "op.siti", "000001", NOW)
    after = NOW + login.LOCKOUT + dt.timedelta(seconds=1)
    for remaining in (4, 3, 2, 1):
        with pytest.raises(LoginRefused, match=f"Sisa percobaan: {remaining}\\."):
            login.login(outbox, "op.siti", "000001", after)
    with pytest.raises(LoginLocked) as caught:
        login.login(outbox, "op.siti", "000001", after)
    assert caught.value.until == after + login.LOCKOUT
    with pytest.raises(LoginLocked):
        login.login(outbox, "op.siti", PIN, after + dt.timedelta(minutes=1))
