"""The target list of ``GET /api/v1/outreach/visits/<id>/targets``: dumped by the server, loaded
by the field client with the same schema."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from marshmallow import ValidationError

from shared.schemas import TargetListSchema

VISIT = {"id": "0193a4f2-7c1e-7d2a-9b1e-2f4c8a1d5e60", "desa_kode": "61.09.04.2006",
         "desa_nama": "MUNGGUK", "kecamatan_kode": "61.09.04", "kecamatan_nama": "SEKADAU HILIR",
         "visit_date": dt.date(2027, 1, 5), "ends_on": dt.date(2027, 1, 6), "days": 2,
         "team": "TIM-1", "state": "planned", "target_count": 1}
TARGET = {"nik": "6109045107080001", "nama": "DEWI", "tanggal_lahir": dt.date(2008, 7, 11),
          "jenis_kelamin": "PEREMPUAN", "alamat": None, "rt": "001", "rw": "002"}


def test_what_the_server_dumps_the_client_loads() -> None:
    schema = TargetListSchema()
    wire = schema.dump({"visit": {**VISIT, "device_id": "not sent"}, "targets": [TARGET]})
    assert wire["visit"]["visit_date"] == "2027-01-05" and "device_id" not in wire["visit"]
    assert schema.load(wire) == {"visit": VISIT, "targets": [TARGET]}


@pytest.mark.parametrize("visit, target", [
    ({"ends_on": "2027-01-04"}, {}),
    ({"id": "../etc"}, {}),
    ({"days": "2"}, {}),
    ({}, {"nik": "61090451070800"}),
])
def test_client_refuses_a_bad_answer(visit: dict[str, Any], target: dict[str, Any]) -> None:
    schema = TargetListSchema()
    wire = schema.dump({"visit": VISIT, "targets": [TARGET]})
    wire["visit"].update(visit)
    wire["targets"][0].update(target)
    with pytest.raises(ValidationError):
        schema.load(wire)
