"""The push answer is written as plain dicts: exactly what ``PushResponseSchema`` dumps, and
what the laptop loads with it."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from shared import vocab
from shared.schemas import PushResponseSchema

Push = Callable[..., Any]
Make = Callable[..., dict[str, Any]]


def test_every_kind_of_answer_is_what_the_schema_dumps_and_loads(
    push: Push, make_record: Make,
) -> None:
    excused = [{"role": role, "reason": "amputated"} for role in vocab.BIOMETRIC_ROLES[3:]]
    first = make_record(attachments=3, exceptions=excused)
    warned = make_record(attachments=3)  # no exceptions: an incomplete-capture warning
    invalid = make_record(attachments=3, exceptions=excused)
    invalid["payload"]["rt"] = "1"
    tampered = make_record(attachments=3, exceptions=excused)
    tampered["operator"] = "op.lain"
    push([first])
    answer = push([first, warned, invalid, tampered, "not a record"])
    assert answer.status_code == 200, answer.json
    document = answer.json
    statuses = [result["status"] for result in document["results"]]
    assert statuses == ["duplicate", "accepted", "rejected", "rejected", "rejected"]
    assert document["results"][1]["warnings"]
    assert "fields" in document["results"][2]["errors"]
    schema = PushResponseSchema()
    assert schema.dump(copy.deepcopy(document)) == document
    assert schema.load(copy.deepcopy(document)) is not None
