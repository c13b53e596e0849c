"""The office lists and dashboard at scale: exact counts on the small lists, PostgreSQL's
estimates (said as such) on the large ones, and counts that agree with the lists they head."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from server.review import dashboard, queue
from tests.support.office import login


def _records(app: Flask, push: Any, make_record: Any, count: int) -> list[str]:
    records = [make_record(attachments=0) for _ in range(count)]
    assert push(records).status_code == 200
    return [record["id"] for record in records]


def test_record_totals_count_what_the_filters_select(app: Flask, push: Any,
                                                     make_record: Any) -> None:
    _records(app, push, make_record, 5)
    with app.app_context():
        every = queue.records(queue.Filters(), total=True, limit=2)
        assert (every.total, every.estimated, len(every.items)) == (5, False, 2)
        team = every.items[0]["team"]
        desa = every.items[0]["desa_kode"]
        state = every.items[0]["state"]
        for filters in (queue.Filters(team=team), queue.Filters(desa=desa),
                        queue.Filters(kecamatan=desa[:8]), queue.Filters(state=state),
                        queue.Filters(team="TIM-LAIN")):
            page = queue.records(filters, total=True, limit=500)
            assert page.total == len(page.items) and not page.estimated


def test_large_lists_show_the_estimate_and_say_so(app: Flask, client: FlaskClient,
                                                  push: Any, make_record: Any,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    _records(app, push, make_record, 3)
    monkeypatch.setattr(queue, "table_estimate", lambda table: 1_000_000)
    monkeypatch.setattr(queue, "state_estimates", lambda: {"needs_review": 400_000})
    login(client, app, "rev", "reviewer")
    page = client.get("/office/records").get_data(as_text=True)
    assert "sekitar 1.000.000 rekaman cocok" in page
    verified = client.get("/office/records?state=needs_review").get_data(as_text=True)
    assert "sekitar 400.000 rekaman cocok" in verified
    exact = client.get("/office/records?state=verified").get_data(as_text=True)
    assert "sekitar" not in exact  # a small state is counted
    with app.app_context():
        filtered = queue.records(queue.Filters(state="needs_review", kecamatan="61.09.04"),
                                 total=True)
        assert not filtered.estimated  # an area narrows it: counted


def test_the_dashboard_marks_estimated_states(app: Flask, client: FlaskClient, push: Any,
                                              make_record: Any,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    _records(app, push, make_record, 2)
    with app.app_context():
        exact = dashboard.dashboard()
        assert sum(exact.by_state.values()) == 2 and not exact.by_state.estimated
    monkeypatch.setattr(queue, "state_estimates",
                        lambda: {"printed": 455_000, "needs_review": 2})
    with app.app_context():
        mixed = dashboard.dashboard()
    assert mixed.by_state.estimated == frozenset({"printed"})
    assert mixed.by_state["printed"] == 455_000
    assert mixed.by_state.get("needs_review", 0) == exact.by_state.get("needs_review", 0)
    login(client, app, "kasi", "viewer")
    page = client.get("/office/").get_data(as_text=True)
    assert "≈ 455.000" in page and "perkiraan basis data" in page
