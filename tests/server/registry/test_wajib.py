"""The wajib-KTP and recorded definitions every report shares."""

from __future__ import annotations

import datetime as dt

from server.registry.wajib import add_months, adult_cutoff, years_before


def test_years_before_moves_a_leap_day_to_28_february() -> None:
    assert years_before(dt.date(2024, 2, 29), 17) == dt.date(2007, 2, 28)
    assert years_before(dt.date(2026, 11, 29), 17) == dt.date(2009, 11, 29)


def test_add_months_clamps_to_the_end_of_the_month() -> None:
    assert add_months(dt.date(2026, 11, 30), 3) == dt.date(2027, 2, 28)
    assert add_months(dt.date(2026, 1, 31), 1) == dt.date(2026, 2, 28)
    assert add_months(dt.date(2026, 10, 15), 3) == dt.date(2027, 1, 15)


def test_a_resident_born_17_years_ago_today_is_an_adult() -> None:
    at = dt.date(2026, 11, 29)
    assert adult_cutoff(at) == dt.date(2009, 11, 29)
