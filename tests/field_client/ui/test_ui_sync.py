"""The web app against the real server: register, log in with the office's PIN, record, sync."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from field_client.client import FieldClient
from field_client.config import Settings
from field_client.ui import create_app
from tests.support.field_ui import draft_id_from, form_data, token
from tests.support.live_server import add_operator


def _record_one(web: Any, folder: Path, seed: int = 0, nik: str = "6109045708900001") -> None:
    data = form_data(token(web, "/rekam"), folder, seed=seed, changes={"nik": nik})
    answer = web.post("/rekam", data=data, content_type="multipart/form-data")
    assert answer.status_code == 303, answer.get_data(as_text=True)[:2000]
    draft_id = draft_id_from(answer.headers["Location"])
    saved = web.post(f"/draf/{draft_id}/simpan", data={"csrf_token": token(web, "/antrean")})
    assert saved.status_code == 303


def _wait_done(web: Any, limit: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        status: dict[str, Any] = web.get("/status.json").get_json()
        if not status["sync"]["running"]:
            return status
        time.sleep(0.05)
    raise AssertionError("sync did not finish")


def test_register_login_record_and_sync_from_the_button(
    settings: Settings, live_server: Any, tmp_path: Path
) -> None:
    pin = add_operator(live_server, "op.siti", "TIM-1")
    app = create_app(settings)
    with app.test_client() as web:
        answer = web.post(
            "/daftar",
            data={
                "server_url": live_server.url,
                "code": live_server.registration_code("TIM-1"),
                "csrf_token": token(web, "/daftar"),
            },
        )
        assert answer.status_code == 302 and answer.headers["Location"].endswith("/masuk")
        login = web.post(
            "/masuk", data={"operator": "op.siti", "pin": pin, "csrf_token": token(web)}
        )
        assert login.status_code == 302
        _record_one(web, tmp_path / "a", seed=1, nik="6109045708900001")
        _record_one(web, tmp_path / "b", seed=2, nik="6109045708900002")
        assert web.get("/status.json").get_json()["counts"]["ready"] == 2

        started = web.post(
            "/sinkron",
            data={"csrf_token": token(web, "/antrean")},
            headers={"Accept": "application/json"},
        )
        assert started.status_code == 202 and started.get_json()["started"] is True
        # Pages loaded (a refresh) and a second press while it runs change nothing.
        assert web.get("/antrean").status_code == 200
        again = web.post(
            "/sinkron",
            data={"csrf_token": token(web, "/antrean")},
            headers={"Accept": "application/json"},
        ).get_json()
        status = _wait_done(web)
        assert status["sync"]["ok"] is True, status["sync"]
        # The second press either found the run going, or came after it and sent nothing.
        expected = "0 rekaman dikirim" if again["started"] else "2 rekaman dikirim"
        assert expected in status["sync"]["message"]
        assert status["sync"]["records_total"] == 2 and status["sync"]["records_done"] == 2
        assert status["sync"]["bytes_done"] == status["sync"]["bytes_total"] > 0
        assert status["last_sync_at"] is not None and status["online"] is True
        queue = web.get("/antrean").get_data(as_text=True)
        assert queue.count('data-state="complete"') == 2
    assert len(live_server.enrollment_ids()) == 2
    with FieldClient(settings=settings) as device:
        assert device.status()["counts"]["complete"] == 2


def test_sync_while_the_server_is_down_says_so_and_keeps_the_record(
    settings: Settings, tmp_path: Path
) -> None:
    from tests.support.field_ui import login, prepare_device

    prepare_device(settings)
    app = create_app(settings)
    with app.test_client() as web:
        login(web)
        _record_one(web, tmp_path / "a")
        answer = web.post("/sinkron", data={"csrf_token": token(web, "/antrean")})
        assert answer.status_code == 303
        status = _wait_done(web)
        assert status["sync"]["ok"] is False
        assert "tetap aman di laptop" in status["sync"]["message"]
        assert status["counts"]["ready"] == 1
        page = web.get("/antrean").get_data(as_text=True)
        assert 'data-state="ready"' in page and "Sinkronisasi terputus" in page


def test_a_record_sent_back_is_fixed_from_the_queue_and_resent(
    settings: Settings, live_server: Any, tmp_path: Path
) -> None:
    pin = add_operator(live_server, "op.siti", "TIM-1")
    app = create_app(settings)
    with FieldClient(settings=settings) as device:
        device.register(live_server.url, live_server.registration_code("TIM-1"))
        device_id = device.status()["device_id"]
    with app.test_client() as web:
        web.post("/masuk", data={"operator": "op.siti", "pin": pin, "csrf_token": token(web)})
        _record_one(web, tmp_path / "a")
        web.post("/sinkron", data={"csrf_token": token(web, "/antrean")})
        assert _wait_done(web)["sync"]["ok"] is True
        (record_id,) = live_server.enrollment_ids()
        live_server.status_change(device_id, record_id, "needs_fix", "Nama salah eja: MARIA")
        web.post("/sinkron", data={"csrf_token": token(web, "/antrean")})
        assert _wait_done(web)["sync"]["ok"] is True
        queue = web.get("/antrean").get_data(as_text=True)
        assert "Nama salah eja: MARIA" in queue and "Perbaiki &amp; kirim ulang" in queue

        answer = web.post(
            f"/rekaman/{record_id}/perbaiki", data={"csrf_token": token(web, "/antrean")}
        )
        draft_url = answer.headers["Location"]
        form = web.get(draft_url).get_data(as_text=True)
        assert "Perbaikan ini menggantikan" in form and 'value="MARIA GORETTI"' in form
        data = {"csrf_token": token(web, draft_url), "action": "review"}
        data.update(_form_values(form))
        data["nama"] = "MARIA GORETI"
        review = web.post(draft_url, data=data, content_type="multipart/form-data")
        assert review.status_code == 303, review.get_data(as_text=True)[:3000]
        draft_id = draft_id_from(review.headers["Location"])
        web.post(f"/draf/{draft_id}/simpan", data={"csrf_token": token(web, "/antrean")})
        web.post("/sinkron", data={"csrf_token": token(web, "/antrean")})
        assert _wait_done(web)["sync"]["ok"] is True
    with FieldClient(settings=settings) as device:
        rows = {row["seq"]: row for row in device.records()}
    assert rows[1]["state"] == "superseded" and rows[2]["supersedes"] == record_id
    assert rows[2]["state"] == "complete"
    assert len(live_server.enrollment_ids()) == 2


def _form_values(page: str) -> dict[str, str]:
    """The card fields' current values as the form shows them (inputs and selected options)."""
    import re

    from field_client.ui.form_fields import CARD_FIELD_NAMES

    values: dict[str, str] = {}
    for name in CARD_FIELD_NAMES:
        found = re.search(rf'name="{name}" id="{name}" value="([^"]*)"', page)
        if found is None:
            block = re.search(rf'<select name="{name}".*?</select>', page, re.S)
            assert block, name
            chosen = re.search(r'<option value="([^"]*)" selected>', block.group(0))
            found = chosen
        assert found is not None, name
        values[name] = found.group(1)
    return values
