"""``jemput-server`` blanko and print commands; bad input is a plain error, nothing written."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner

from tests.support.suket import approved_record, counts


def test_receive_print_summary_stock(app: Flask, runner: FlaskCliRunner,
                                     push: Callable[..., Any],
                                     make_record: Callable[..., Any]) -> None:
    record_id = approved_record(app, push, make_record)
    result = runner.invoke(args=["blanko-receive", "--quantity", "2000",
                                 "--reference", "470/1234/DUKCAPIL"])
    assert result.exit_code == 0, result.output
    assert "Saldo: 2000" in result.output
    queue = runner.invoke(args=["print-queue"])
    assert "Antrean cetak: 1 rekaman" in queue.output and record_id in queue.output
    printed = runner.invoke(args=["print-card", record_id])
    assert printed.exit_code == 0 and "Sisa blanko: 1999" in printed.output
    spoiled = runner.invoke(args=["blanko-spoil", "--quantity", "9", "--reason", "tergores"])
    returned = runner.invoke(args=["blanko-return", "--quantity", "90", "--reason", "Sanggau"])
    assert "Saldo: 1990" in spoiled.output and "Saldo: 1900" in returned.output
    summary = runner.invoke(args=["blanko-summary"])
    assert summary.exit_code == 0
    assert "Saldo akhir" in summary.output and "1900" in summary.output
    stock = runner.invoke(args=["blanko-stock", "--days", "30"])
    assert "Saldo blanko: 1900" in stock.output and "Permintaan ke provinsi" in stock.output
    as_json = runner.invoke(args=["blanko-summary", "--json"])
    assert '"closing": 1900' in as_json.output


@pytest.mark.parametrize("args, words", [
    (["blanko-receive", "--quantity", "-5", "--reference", "470/1"], "lebih dari 0"),
    (["blanko-receive", "--quantity", "2.5", "--reference", "470/1"], "not a valid integer"),
    (["blanko-receive", "--quantity", "100001", "--reference", "470/1"], "paling banyak"),
    (["blanko-receive", "--quantity", "5", "--reference", " "], "wajib diisi"),
    (["blanko-receive", "--quantity", "5", "--reference", "470/1", "--date", "2099-01-01"],
     "masa depan"),
    (["blanko-receive", "--quantity", "5", "--reference", "470/1", "--date", "kemarin"],
     "bukan tanggal"),
    (["blanko-spoil", "--quantity", "1", "--reason", "rusak"], "hanya 0"),
    (["print-card", "00000000-0000-0000-0000-000000000000"], "tidak ada"),
    (["blanko-stock", "--days", "0"], "1..365"),
    (["blanko-summary", "--date", "2099-01-01"], "masa depan"),
])
def test_bad_input_is_a_plain_error(app: Flask, runner: FlaskCliRunner, args: list[str],
                                    words: str) -> None:
    before = counts(app)
    result = runner.invoke(args=args)
    assert result.exit_code != 0
    assert words in result.output, result.output
    assert "Traceback" not in result.output
    assert counts(app) == before


def test_print_with_zero_stock(app: Flask, runner: FlaskCliRunner, push: Callable[..., Any],
                               make_record: Callable[..., Any]) -> None:
    record_id = approved_record(app, push, make_record)
    before = counts(app)
    result = runner.invoke(args=["print-card", record_id])
    assert result.exit_code == 1 and "Stok blanko habis" in result.output
    assert counts(app) == before
