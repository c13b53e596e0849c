"""The target list of ``GET /api/v1/outreach/visits/<id>/targets``: dumped by the server, loaded
by the field client with the same schemas (the visit in clear, its targets in a box under the
device's data key)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from marshmallow import ValidationError

from shared import datakey
from shared.schemas import TargetListSchema, TargetsContentSchema
from shared.sealing import b64, unb64

DK = datakey.new_data_key()

VISIT = {"id": "0193a4f2-7c1e-7d2a-9b1e-2f4c8a1d5e60", "desa_kode": "61.09.04.2006",
         "desa_nama": "MUNGGUK", "kecamatan_kode": "61.09.04", "kecamatan_nama": "SEKADAU HILIR",
         "visit_date": dt.date(2027, 1, 5), "ends_on": dt.date(2027, 1, 6), "days": 2,
         "team": "TIM-1", "state": "planned", "target_count": 1}
TARGET = {"nik": "6109045107080001", "nama": "DEWI", "tanggal_lahir": dt.date(2008, 7, 11),
          "jenis_kelamin": "PEREMPUAN", "alamat": None, "rt": "001", "rw": "002"}


def _wire(visit: dict[str, Any], targets: list[dict[str, Any]],
          change_visit: dict[str, Any] | None = None,
          change_target: dict[str, Any] | None = None) -> dict[str, Any]:
    """What the server sends: the visit, and the dumped targets boxed under the data key (with
    ``change_*`` applied to what was dumped, as a broken server might send it)."""
    content = TargetsContentSchema().dump({"targets": targets})
    content["targets"][0].update(change_target or {})
    box = datakey.encrypt_json(DK, content)
    wire: dict[str, Any] = TargetListSchema().dump({"visit": visit, "sealed": b64(box)})
    wire["visit"].update(change_visit or {})
    return wire


def _load(wire: dict[str, Any]) -> dict[str, Any]:
    """What the field client makes of it: the visit, and the targets from the opened box."""
    loaded = TargetListSchema().load(wire)
    content = datakey.decrypt_json(DK, unb64(loaded["sealed"]))
    return {"visit": loaded["visit"], **TargetsContentSchema().load(content)}


def test_what_the_server_dumps_the_client_loads() -> None:
    wire = _wire({**VISIT, "device_id": "not sent"}, [TARGET])
    assert wire["visit"]["visit_date"] == "2027-01-05" and "device_id" not in wire["visit"]
    assert "targets" not in wire and TARGET["nik"] not in str(wire)
    assert _load(wire) == {"visit": VISIT, "targets": [TARGET]}


@pytest.mark.parametrize("visit, target", [
    ({"ends_on": "2027-01-04"}, {}),
    ({"id": "../etc"}, {}),
    ({"days": "2"}, {}),
    ({}, {"nik": "61090451070800"}),
])
def test_client_refuses_a_bad_answer(visit: dict[str, Any], target: dict[str, Any]) -> None:
    wire = _wire(VISIT, [TARGET], visit, target)
    with pytest.raises(ValidationError):
        _load(wire)
