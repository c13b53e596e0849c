"""Usage per day, the forecast (the figure for the letter) and the daily stock summary."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from server.cards import blanko, printing
from server.core.errors import InvalidInput
from server.core.extensions import db
from tests.support.suket import SUPERVISOR, approved_record

Push = Callable[..., Any]


def _book(kind: str, quantity: int, day: dt.date) -> None:
    """A ledger entry on a past office day (what prints and spoils of that day wrote)."""
    blanko.lock_stock()
    blanko.add_entry(kind, quantity, actor="user:sari", entry_date=day, reason="uji")
    db.session.commit()


def test_usage_per_day_covers_every_day_of_the_window(app: Flask) -> None:
    with app.app_context():
        today = blanko.office_today()
        blanko.receive(100, "470/1/DUKCAPIL", today - dt.timedelta(days=20), actor=SUPERVISOR)
        _book("used", 7, today - dt.timedelta(days=13))
        _book("spoiled", 2, today - dt.timedelta(days=13))
        _book("used", 5, today)
        _book("used", 50, today - dt.timedelta(days=14))  # outside the window
        days = blanko.usage_per_day(14, today)
        assert len(days) == 14 and days[0].day == today - dt.timedelta(days=13)
        assert (days[0].used, days[0].spoiled, days[0].total) == (7, 2, 9)
        assert (days[-1].day, days[-1].used) == (today, 5)
        assert sum(day.total for day in days[1:-1]) == 0


def test_forecast_rate_runout_and_request(app: Flask, push: Push,
                                          make_record: Callable[..., Any]) -> None:
    approved_record(app, push, make_record)
    approved_record(app, push, make_record, serial=2)
    with app.app_context():
        today = blanko.office_today()
        blanko.receive(30, "470/1/DUKCAPIL", today - dt.timedelta(days=10), actor=SUPERVISOR)
        _book("used", 14, today - dt.timedelta(days=9))
        _book("used", 14, today - dt.timedelta(days=2))
        result = blanko.forecast(30, today)
        assert (result.balance, result.out_per_day, result.days_left) == (2, 2.0, 1)
        assert result.runs_out_on == today + dt.timedelta(days=1)
        assert (result.queue, result.approvals_per_day) == (2, 0.14)
        # 2 waiting + 30 days x 2/14 approvals - 2 in stock = 4.29 -> 5 blanks
        assert result.request == 5
        blanko.receive(1000, "470/2/DUKCAPIL", today, actor=SUPERVISOR)
        assert blanko.forecast(30, today).request == 0  # floored at 0


def test_forecast_without_usage_has_no_runout_date(app: Flask) -> None:
    with app.app_context():
        blanko.receive(10, "470/1/DUKCAPIL", actor=SUPERVISOR)
        result = blanko.forecast()
        assert (result.out_per_day, result.days_left, result.runs_out_on) == (0.0, None, None)
        assert result.request == 0


@pytest.mark.parametrize("n_days", [0, -1, 366, 2.5, "30", True])
def test_forecast_refuses_bad_day_counts(app: Flask, n_days: Any) -> None:
    with app.app_context(), pytest.raises(InvalidInput, match=r"bilangan bulat 1\.\.365"):
        blanko.forecast(n_days)


def test_daily_summary_of_a_past_day(app: Flask) -> None:
    with app.app_context():
        today = blanko.office_today()
        day = today - dt.timedelta(days=3)
        blanko.receive(10, "470/1/DUKCAPIL", day - dt.timedelta(days=1), actor=SUPERVISOR)
        blanko.receive(5, "470/2/DUKCAPIL", day, actor=SUPERVISOR)
        _book("used", 3, day)
        _book("spoiled", 1, day)
        _book("returned", 1, day)
        _book("used", 4, today)
        summary = blanko.daily_summary(day)
        assert (summary.opening, summary.received, summary.used, summary.spoiled,
                summary.returned, summary.closing) == (10, 5, 3, 1, 1, 10)
        assert blanko.daily_summary(today).opening == 10
        assert blanko.daily_summary(today).closing == 6
        with pytest.raises(InvalidInput, match="masa depan"):
            blanko.daily_summary(today + dt.timedelta(days=1))


def test_daily_summary_counts_misprints_within_used(app: Flask, push: Push,
                                                    make_record: Callable[..., Any]) -> None:
    first = approved_record(app, push, make_record)
    approved_record(app, push, make_record, serial=2)
    with app.app_context():
        blanko.receive(5, "470/1/DUKCAPIL", actor=SUPERVISOR)
        job = printing.print_card(first, actor=SUPERVISOR)
        printing.spoil_and_reprint(job.id, "foto bergaris", actor=SUPERVISOR)
        summary = blanko.daily_summary()
        assert (summary.received, summary.used, summary.misprinted, summary.closing,
                summary.queue) == (5, 2, 1, 3, 1)
        # Yesterday nothing was approved yet: the past queue comes from the audit chain.
        yesterday = blanko.office_today() - dt.timedelta(days=1)
        assert blanko.daily_summary(yesterday).queue == 0


def test_a_forecast_for_an_earlier_day_ignores_later_approvals(
    app: Flask, push: Callable[..., Any], make_record: Callable[..., Any]
) -> None:
    approved_record(app, push, make_record)  # approved today
    with app.app_context():
        today = blanko.office_today()
        assert blanko.forecast(today=today).approvals_per_day > 0
        assert blanko.forecast(today=today - dt.timedelta(days=20)).approvals_per_day == 0
