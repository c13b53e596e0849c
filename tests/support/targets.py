"""The fake server of the field client suite, with outreach visits: ``outreach_assigned`` and
``outreach_closed`` feed entries, and the target-list endpoint answered over (in-process) HTTP
by a small WSGI app, so the real ``Transport.targets`` runs: statuses, problems, the schema."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from werkzeug.wrappers import Request, Response

from field_client.client import FieldClient
from field_client.config import Settings
from field_client.sync.transport import Transport
from shared import datakey
from shared.sealing import b64
from tests.support.fakes import CutConnection, FakeServer, FakeTransport, WsgiAdapter, problem
from tests.support.keys import give_office_key

TODAY = dt.date(2026, 11, 27)
DESA = "61.09.04.2006"
TARGETS_PREFIX = "/api/v1/outreach/visits/"


def target(index: int, nama: str | None = None, **changes: Any) -> dict[str, Any]:
    """A resident of a target list; the NIK serial is ``index`` (as ``field.person``)."""
    return {
        "nik": f"610904570890{index:04d}",
        "nama": nama or f"WARGA NOMOR {index}",
        "tanggal_lahir": "1990-08-17",
        "jenis_kelamin": "PEREMPUAN",
        "alamat": "DUSUN TEMBAGA",
        "rt": "001",
        "rw": "002",
    } | changes


def visit(visit_id: str | None = None, *, days: int = 1, start: dt.date = TODAY) -> dict[str, Any]:
    """The ``visit`` object of a target-list answer."""
    return {
        "id": visit_id or str(uuid.uuid4()),
        "desa_kode": DESA,
        "desa_nama": "TEMBAGA",
        "kecamatan_kode": "61.09.04",
        "kecamatan_nama": "NANGA MAHAP",
        "visit_date": start.isoformat(),
        "ends_on": (start + dt.timedelta(days=days - 1)).isoformat(),
        "days": days,
        "team": "TIM-1",
        "state": "planned",
        "target_count": 0,
    }


@dataclass
class OutreachServer(FakeServer):
    """FakeServer plus visits: assign/close them in the feed and hand out their target lists."""

    lists: dict[str, dict[str, Any]] = field(default_factory=dict)
    refuse: dict[str, tuple[int, str]] = field(default_factory=dict)  # visit -> (status, code)
    cut_targets: bool = False  # the target-list request loses its connection
    answer: Callable[[str], Any] | None = None  # replaces the JSON answer (malformed ones)
    fetched: list[str] = field(default_factory=list)  # visit ids asked for, in order

    def transport(self, url: str, settings: Settings, token: str | None) -> FakeTransport:
        return OutreachTransport(self, url, settings, token)

    def assign(self, targets: Iterable[dict[str, Any]], **options: Any) -> str:
        """Plan a visit with ``targets`` and put ``outreach_assigned`` in the feed."""
        made = visit(**options)
        rows = list(targets)
        made["target_count"] = len(rows)
        self.lists[made["id"]] = {"visit": made, "targets": rows}
        self.outreach_entry("outreach_assigned", made["id"])
        return str(made["id"])

    def close(self, visit_id: str, state: str = "closed") -> None:
        """End a visit: its list is gone from the server (410) and the feed says so."""
        self.refuse[visit_id] = (410, "visit_closed")
        self.outreach_entry("outreach_closed", visit_id, state)

    def outreach_entry(self, kind: str, visit_id: str, state: str = "planned") -> None:
        self.feed.append(
            {
                "cursor": len(self.feed) + 1,
                "kind": kind,
                "record_id": None,
                "visit_id": visit_id,
                "state": state,
                "sealed": None,
                "at": "2026-11-26T03:00:00Z",
            }
        )

    def wsgi(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        """The target-list endpoint; everything else goes to the fake tus server."""
        request = Request(environ)
        if not request.path.startswith(TARGETS_PREFIX):
            return self.tus(environ, start_response)
        return self._targets(request)(environ, start_response)

    def _targets(self, request: Request) -> Response:
        if not request.headers.get("Authorization"):
            return problem(401, "unauthorized")
        visit_id = request.path[len(TARGETS_PREFIX) :].removesuffix("/targets")
        self.fetched.append(visit_id)
        if self.cut_targets:
            raise CutConnection
        if visit_id in self.refuse:
            return problem(*self.refuse[visit_id])
        if visit_id not in self.lists:
            return problem(404, "visit_not_found")
        if self.answer:
            body = self.answer(visit_id)
        else:
            held = self.lists[visit_id]
            body = {"visit": held["visit"], "sealed": b64(datakey.encrypt_json(
                self.data_key, {"targets": held["targets"]}))}
        return Response(json.dumps(body), mimetype="application/json")


class OutreachTransport(FakeTransport):
    """Push and pull in memory; the target list and uploads over the in-process WSGI app."""

    def __init__(self, server: OutreachServer, url: str, settings: Settings, token: str | None):
        Transport.__init__(self, url, settings, token, adapter=WsgiAdapter(server.wsgi))
        self.server = server


def outreach_client(
    settings: Settings, server: OutreachServer, today: dt.date = TODAY
) -> FieldClient:
    """A field client registered with ``server`` whose local clock says ``today``."""
    made = FieldClient(settings=settings, transport_factory=server.transport, today=lambda: today)
    with made.outbox.atomic():
        made.outbox.set_meta("server_url", "http://fake.invalid")
        made.outbox.set_meta("token", "t0ken")
        give_office_key(made.outbox)
    return made
