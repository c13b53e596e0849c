"""The one visit request schema: the office API's JSON body and the office page's form."""

from __future__ import annotations

import datetime as dt

import pytest
from marshmallow import ValidationError

from server.outreach import visits

FIELDS = {"desa_kode": "61.09.04.2006", "visit_date": "2027-01-05", "team": "TIM-1",
          "device_id": "d" * 36}


def test_api_body_is_strict() -> None:
    schema = visits.VisitRequestSchema()
    assert schema.load({**FIELDS, "days": 2})["days"] == 2
    assert schema.load(FIELDS)["days"] == 1
    with pytest.raises(ValidationError) as days:
        schema.load({**FIELDS, "days": "2"})
    assert set(days.value.messages) == {"days"}
    with pytest.raises(ValidationError) as unknown:
        schema.load({**FIELDS, "csrf_token": "x"})
    assert set(unknown.value.messages) == {"csrf_token"}


def test_form_takes_text_and_drops_the_csrf_token() -> None:
    form = visits.VisitRequestSchema(form=True)
    loaded = form.load({**FIELDS, "days": "2", "csrf_token": "x"})
    assert (loaded["days"], loaded["visit_date"]) == (2, dt.date(2027, 1, 5))
    assert "csrf_token" not in loaded
    # The API's instance is not loosened by the form's.
    with pytest.raises(ValidationError):
        visits.VisitRequestSchema().load({**FIELDS, "days": "2"})


@pytest.mark.parametrize("form", [False, True])
def test_team_limit_is_the_service_limit(form: bool) -> None:
    schema = visits.VisitRequestSchema(form=form)
    assert schema.load({**FIELDS, "team": "T" * visits.MAX_TEAM})["team"]
    with pytest.raises(ValidationError) as exc:
        schema.load({**FIELDS, "team": "T" * (visits.MAX_TEAM + 1)})
    assert set(exc.value.messages) == {"team"}
