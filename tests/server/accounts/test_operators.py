"""Field operators: created with a generated PIN, reset, disabled; bad input writes nothing."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import func, select

from server.accounts import operators
from server.core.errors import Conflict, InvalidInput, NotFound
from server.core.extensions import db
from server.core.models import AuditEvent, Operator
from shared.pin import PIN_RE, TEST_KDF_COST, is_trivial
from tests.support.server_app import pin_opens


def pin_in(app: Flask, username: str, pin: str) -> bool:
    with app.app_context():
        return pin_opens(username, pin)


def rows(app: Flask) -> dict[str, Any]:
    """Operators (sealed PIN keys, flags) and the audit event count: proof nothing changed."""
    with app.app_context():
        found = {
            "operators": sorted(db.session.execute(select(
                Operator.username, Operator.nama, Operator.team, Operator.pin_key_sealed,
                Operator.active, Operator.pin_changed_at)).all()),
            "audit": db.session.execute(select(func.count()).select_from(AuditEvent))
            .scalar_one(),
        }
        db.session.commit()
        return found


def stored(app: Flask, username: str) -> Operator:
    with app.app_context():
        operator = db.session.execute(
            select(Operator).where(Operator.username == username)).scalar_one()
        db.session.expunge(operator)
        db.session.commit()
        return operator


def test_create_returns_a_pin_that_only_a_sealed_derived_key_keeps(app: Flask) -> None:
    with app.app_context():
        pin = operators.create_operator("  Op.Suryadi ", " TIM-1 ", "  Suryadi   Anwar ")
    assert PIN_RE.fullmatch(pin) and not is_trivial(pin)
    operator = stored(app, "op.suryadi")
    assert (operator.nama, operator.team, operator.active) == ("Suryadi Anwar", "TIM-1", True)
    assert (operator.kdf_opslimit, operator.kdf_memlimit) == (TEST_KDF_COST.opslimit,
                                                              TEST_KDF_COST.memlimit)
    assert pin not in operator.pin_key_sealed and pin_in(app, "op.suryadi", pin)
    with app.app_context():
        listed = operators.listing()
        event = db.session.execute(select(AuditEvent)).scalar_one()
        assert (event.actor, event.action) == ("cli", "operator_add")
        assert event.detail == {"username": "op.suryadi", "team": "TIM-1"}
    assert listed == [{"username": "op.suryadi", "nama": "Suryadi Anwar", "team": "TIM-1",
                       "active": True, "created_at": listed[0]["created_at"],
                       "pin_changed_at": listed[0]["pin_changed_at"]}]


def test_nama_defaults_to_the_username(app: Flask) -> None:
    with app.app_context():
        operators.create_operator("op.b", "TIM-1")
    assert stored(app, "op.b").nama == "op.b"


@pytest.mark.parametrize(("username", "team", "nama", "message"), [
    ("", "TIM-1", None, "Nama pengguna operator harus 1-64 karakter"),
    ("op suryadi", "TIM-1", None, "huruf, angka, titik, garis bawah atau strip"),
    (".op", "TIM-1", None, "diawali huruf atau angka"),
    ("op/1", "TIM-1", None, "Nama pengguna operator"),
    ("a" * 65, "TIM-1", None, "1-64 karakter"),
    ("op.a\n", "TIM-1", "x\x00y", "Nama operator harus 1-120 karakter"),
    ("op.a", "   ", None, "Nama tim harus 1-80 karakter."),
    ("op.a", "T" * 81, None, "Nama tim harus 1-80 karakter."),
    ("op.a", "TIM-1", "   ", "Nama operator harus 1-120 karakter"),
    ("op.a", "TIM-1", "N" * 121, "Nama operator harus 1-120 karakter"),
])
def test_bad_input_is_refused_and_writes_nothing(app: Flask, username: str, team: str,
                                                 nama: str | None, message: str) -> None:
    before = rows(app)
    with app.app_context(), pytest.raises(InvalidInput) as caught:
        operators.create_operator(username, team, nama)
    assert message in caught.value.detail
    assert rows(app) == before


def test_a_taken_username_is_a_conflict_in_any_case(app: Flask) -> None:
    with app.app_context():
        operators.create_operator("op.a", "TIM-1", "Ani")
    before = rows(app)
    with app.app_context(), pytest.raises(Conflict) as caught:
        operators.create_operator("OP.A", "TIM-2", "Another")
    assert caught.value.detail == "Operator 'op.a' sudah ada."
    assert rows(app) == before


def test_reset_pin(app: Flask) -> None:
    with app.app_context():
        old = operators.create_operator("op.a", "TIM-1")
    first = stored(app, "op.a")
    with app.app_context():
        new = operators.reset_pin("OP.A ")
    second = stored(app, "op.a")
    assert pin_in(app, "op.a", new)
    assert old == new or not pin_in(app, "op.a", old)
    assert second.pin_key_sealed != first.pin_key_sealed and second.pin_salt != first.pin_salt
    assert second.pin_changed_at >= first.pin_changed_at
    with app.app_context():
        actions = db.session.execute(select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert [a for (a,) in actions] == ["operator_add", "operator_pin_reset"]


@pytest.mark.parametrize("call", [
    lambda: operators.reset_pin("op.nobody"),
    lambda: operators.set_active("op.nobody", False),
    lambda: operators.operator_info("op.nobody"),
    lambda: operators.reset_pin("x" * 500),
])
def test_unknown_operator_is_not_found_and_writes_nothing(app: Flask, call: Any) -> None:
    with app.app_context():
        operators.create_operator("op.a", "TIM-1")
    before = rows(app)
    with app.app_context(), pytest.raises(NotFound) as caught:
        call()
    assert "tidak ditemukan" in caught.value.detail and caught.value.detail.startswith("Operator")
    assert rows(app) == before


def test_disable_and_enable(app: Flask) -> None:
    with app.app_context():
        operators.create_operator("op.a", "TIM-1")
        assert operators.set_active("op.a", False) is True
        assert operators.set_active("op.a", False) is False  # already: nothing written
        assert operators.listing()[0]["active"] is False
        assert operators.set_active("op.a", True) is True
        actions = [a for (a,) in db.session.execute(
            select(AuditEvent.action).order_by(AuditEvent.id)).all()]
    assert actions == ["operator_add", "operator_disable", "operator_enable"]


def test_listing_by_team_and_team_devices(app: Flask, device: tuple[str, str]) -> None:
    with app.app_context():
        operators.create_operator("op.b", "TIM-1")
        operators.create_operator("op.a", "TIM-2")
        operators.create_operator("op.c", "TIM-1")
        assert [o["username"] for o in operators.listing()] == ["op.b", "op.c", "op.a"]
        assert [o["username"] for o in operators.listing(" TIM-1 ")] == ["op.b", "op.c"]
        assert operators.listing("TIM-9") == []
        assert all("pin_hash" not in o for o in operators.listing())
        assert operators.team_devices("TIM-1") == 1
        assert operators.team_devices("TIM-2") == 0


# --- jemput-server operator-* ---------------------------------------------------------------


def test_cli_add_prints_the_pin_once(app: Flask, runner: FlaskCliRunner,
                                     device: tuple[str, str]) -> None:
    added = runner.invoke(args=["operator-add", "Op.Suryadi", "--team", "TIM-1",
                                "--nama", "Suryadi"])
    assert added.exit_code == 0, added.output
    pin = added.output.split("hanya tampil sekali): ")[1].split()[0]
    assert PIN_RE.fullmatch(pin)
    assert pin_in(app, "op.suryadi", pin)
    assert "Operator 'op.suryadi' (Suryadi) dibuat untuk tim TIM-1." in added.output
    assert "sinkron berikutnya" in added.output
    assert "belum punya perangkat" not in added.output
    listed = runner.invoke(args=["operators"])
    assert listed.exit_code == 0
    assert "op.suryadi" in listed.output and "aktif" in listed.output
    assert "pbkdf2" not in listed.output and pin not in listed.output


def test_cli_add_warns_about_a_team_without_devices(app: Flask, runner: FlaskCliRunner) -> None:
    added = runner.invoke(args=["operator-add", "op.a", "--team", "TIM-TYPO"])
    assert added.exit_code == 0, added.output
    assert "tim TIM-TYPO belum punya perangkat terdaftar" in added.output


def test_cli_pin_disable_enable_and_listing(app: Flask, runner: FlaskCliRunner) -> None:
    runner.invoke(args=["operator-add", "op.a", "--team", "TIM-1"])
    runner.invoke(args=["operator-add", "op.b", "--team", "TIM-2"])
    reset = runner.invoke(args=["operator-pin", "op.a"])
    assert reset.exit_code == 0, reset.output
    pin = reset.output.split("hanya tampil sekali): ")[1].split()[0]
    assert pin_in(app, "op.a", pin)
    disabled = runner.invoke(args=["operator-disable", "op.a"])
    assert disabled.exit_code == 0 and "sekarang nonaktif" in disabled.output
    again = runner.invoke(args=["operator-disable", "op.a"])
    assert again.exit_code == 0 and "memang sudah nonaktif" in again.output
    team_one = runner.invoke(args=["operators", "--team", "TIM-1"]).output
    assert "op.a" in team_one and "nonaktif" in team_one and "op.b" not in team_one
    enabled = runner.invoke(args=["operator-enable", "op.a"])
    assert enabled.exit_code == 0 and "sekarang aktif" in enabled.output
    assert "Belum ada operator untuk tim TIM-9." in runner.invoke(
        args=["operators", "--team", "TIM-9"]).output


@pytest.mark.parametrize(("args", "message"), [
    (["operator-add", "op a", "--team", "TIM-1"], "Nama pengguna operator harus"),
    (["operator-add", "op.a", "--team", " "], "Nama tim harus 1-80 karakter."),
    (["operator-add", "op.x", "--team", "TIM-1"], "Operator 'op.x' sudah ada."),
    (["operator-pin", "op.nobody"], "Operator 'op.nobody' tidak ditemukan."),
    (["operator-disable", "op.nobody"], "Operator 'op.nobody' tidak ditemukan."),
    (["operator-enable", "op.nobody"], "Operator 'op.nobody' tidak ditemukan."),
    (["operators", "--team", ""], "Nama tim harus 1-80 karakter."),
])
def test_cli_errors_are_plain_and_write_nothing(app: Flask, runner: FlaskCliRunner,
                                                args: list[str], message: str) -> None:
    runner.invoke(args=["operator-add", "op.x", "--team", "TIM-1"])
    before = rows(app)
    result = runner.invoke(args=args)
    assert result.exit_code == 1
    assert f"Error: {message}" in result.output
    assert "Traceback" not in result.output
    assert rows(app) == before


def test_pin_changed_at_is_utc(app: Flask) -> None:
    with app.app_context():
        operators.create_operator("op.a", "TIM-1")
        info = operators.operator_info("op.a")
    assert info["pin_changed_at"].utcoffset() == dt.timedelta(0)


def test_the_demo_operator_is_made_once_and_gets_a_new_pin_on_a_rerun(app: Flask) -> None:
    from server.demo import story

    with app.app_context():
        first = story._demo_operator()
        operators.set_active(story.OPERATOR, False)
        second = story._demo_operator()
        listed = operators.listing(story.TEAM)
    assert [(o["username"], o["active"]) for o in listed] == [(story.OPERATOR, True)]
    assert pin_in(app, story.OPERATOR, second)
    assert first == second or not pin_in(app, story.OPERATOR, first)
