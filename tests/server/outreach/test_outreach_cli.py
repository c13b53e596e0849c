"""``jemput-server outreach-*``: rank, create, show, close; errors are plain and write nothing."""

from __future__ import annotations

import datetime as dt
import json

from flask import Flask
from flask.testing import FlaskCliRunner

from server.outreach import visits
from tests.support.outreach import outreach_rows, populate
from tests.support.records import DESA


def _date(days: int = 5) -> str:
    return (visits.office_today() + dt.timedelta(days=days)).isoformat()


def test_rank_create_show_close(app: Flask, runner: FlaskCliRunner,
                                device: tuple[str, str]) -> None:
    populate(app)
    ranked = runner.invoke(args=["outreach-rank", "--kecamatan", "61.09.04", "--limit", "3"])
    assert ranked.exit_code == 0, ranked.output
    lines = ranked.output.splitlines()
    assert DESA in lines[2] and " 4 " in lines[2] and "belum" in lines[2]
    assert "desa lagi" in lines[-1]
    as_json = json.loads(runner.invoke(args=["outreach-rank", "--json"]).output)
    assert len(as_json["desa"]) == 94 and as_json["desa"][0]["desa_kode"] == DESA
    created = runner.invoke(args=["outreach-create", "--desa", DESA, "--date", _date(),
                                  "--team", "TIM-1", "--device", device[0], "--days", "2"])
    assert created.exit_code == 0, created.output
    assert "4 sasaran" in created.output
    visit_id = created.output.split()[1]
    with app.app_context():
        assert visits.visit_info(visit_id).created_by == "cli"
    shown = runner.invoke(args=["outreach-show", visit_id])
    assert "Sasaran 4, sudah rekam 0 (0.00 %)" in shown.output
    detail = json.loads(runner.invoke(args=["outreach-show", visit_id, "--json"]).output)
    assert len(detail["targets"]) == 4
    assert detail["percent"] == 0.0  # a number, as in the office API
    rank_after = runner.invoke(args=["outreach-rank", "--kecamatan", "61.09.04"]).output
    assert "TIM-1" in rank_after.splitlines()[2]
    closed = runner.invoke(args=["outreach-close", visit_id, "--cancel"])
    assert closed.exit_code == 0 and "dibatalkan" in closed.output
    again = runner.invoke(args=["outreach-close", visit_id])
    assert again.exit_code == 1 and "sudah dibatalkan" in again.output


def test_bad_input_is_a_plain_error(app: Flask, runner: FlaskCliRunner,
                                    device: tuple[str, str]) -> None:
    populate(app)
    before = outreach_rows(app)
    base = ["outreach-create", "--team", "TIM-1", "--device", device[0]]
    cases = [
        (["--desa", "61.09.99.9999", "--date", _date()], "tidak ada di tabel wilayah"),
        (["--desa", DESA, "--date", "2020-01-01"], "sudah lewat"),
        (["--desa", DESA, "--date", "01/02/2027"], "tidak sah"),
        (["--desa", DESA, "--date", _date(), "--days", "20"], "1-14"),
    ]
    for extra, message in cases:
        answer = runner.invoke(args=[*base, *extra])
        assert answer.exit_code == 1, answer.output
        assert message in answer.output and "Traceback" not in answer.output
    unknown = runner.invoke(args=["outreach-create", "--desa", DESA, "--date", _date(),
                                  "--team", "T", "--device", "bukan"])
    assert unknown.exit_code == 1 and "tidak dikenal" in unknown.output
    assert outreach_rows(app) == before
    assert runner.invoke(args=["outreach-close", "nope"]).exit_code == 1
    assert "tidak ditemukan" in runner.invoke(args=["outreach-show", "nope"]).output
    bad_kec = runner.invoke(args=["outreach-rank", "--kecamatan", "61.09.99"])
    assert bad_kec.exit_code == 1 and "Traceback" not in bad_kec.output
