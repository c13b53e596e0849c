"""The web app where things go sideways: double posts, busy outbox, stale sessions, races."""

from __future__ import annotations

import re
import sqlite3
import time
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from field_client.client import FieldClient
from field_client.config import Settings, load_settings
from field_client.store import profile
from shared import datakey
from tests.support.field import opened, set_state
from tests.support.field_ui import (
    draft_id_from,
    form_data,
    login,
    prepare_device,
    profile_document,
    token,
)
from tests.support.keys import DATA_KEY as DK

_KEY = re.compile(r'name="form_key" value="([^"]+)"')


def _device(settings: Settings) -> FieldClient:
    return FieldClient(settings=settings)


def _new_form(web: FlaskClient, folder: Path, **kw: object) -> dict[str, object]:
    page = web.get("/rekam").get_data(as_text=True)
    key = _KEY.search(page)
    assert key, "a new form carries its draft key"
    data = form_data(token(web, "/rekam"), folder, **kw)  # type: ignore[arg-type]
    data["form_key"] = key.group(1)
    return data


def _sent_back(settings: Settings, record_id: str, state: str, reason: str | None) -> None:
    """The office sends the record back in ``state``: its reason and the record's data, under
    the data key (as a pull would store them)."""
    with _device(settings) as device:
        record = opened(device, record_id)  # what the office holds
        set_state(device, record_id, state)
        returned = {"reason": reason, "record": {key: record[key] for key in (
            "payload", "attachments", "exceptions")}}  # fmt: skip
        with device.outbox.atomic():
            device.outbox.execute("UPDATE record SET returned = ? WHERE id = ?",
                                  (datakey.encrypt_json(DK, returned), record_id))


def _save_new(web: FlaskClient, folder: Path, **kw: object) -> str:
    answer = web.post("/rekam", data=_new_form(web, folder, **kw),
                      content_type="multipart/form-data")
    assert answer.status_code == 303, answer.get_data(as_text=True)[:2000]
    draft_id = draft_id_from(answer.headers["Location"])
    saved = web.post(f"/draf/{draft_id}/simpan", data={"csrf_token": token(web, "/antrean")})
    assert saved.status_code == 303
    return draft_id


def test_a_double_click_on_a_new_form_makes_one_draft(
    web: FlaskClient, settings: Settings, tmp_path: Path
) -> None:
    data = _new_form(web, tmp_path / "f")
    first = web.post("/rekam", data=dict(data), content_type="multipart/form-data")
    data = _new_form(web, tmp_path / "g")
    data["form_key"] = draft_id_from(first.headers["Location"])  # the same form posted again
    second = web.post("/rekam", data=data, content_type="multipart/form-data")
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"]
    with _device(settings) as device:
        assert len(device.drafts(data_key=DK)) == 1


def test_a_forged_form_key_is_refused_with_the_values_kept(
    web: FlaskClient, settings: Settings, tmp_path: Path
) -> None:
    data = _new_form(web, tmp_path / "f")
    data["form_key"] = "../../etc"
    answer = web.post("/rekam", data=data, content_type="multipart/form-data")
    assert answer.status_code == 422
    page = answer.get_data(as_text=True)
    assert "muat ulang halaman" in page and 'value="MARIA GORETTI"' in page
    assert "Isian belum tersimpan" in page
    with _device(settings) as device:
        assert device.drafts(data_key=DK) == []


def test_a_busy_outbox_shows_the_form_again_with_everything_typed(
    web: FlaskClient, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from field_client.store import outbox as outbox_module

    monkeypatch.setattr(outbox_module, "BUSY_TIMEOUT_MS", 200)
    data = _new_form(web, tmp_path / "f", changes={"nama": "BUDI SANTOSO"})
    blocker = sqlite3.connect(settings.outbox_path, timeout=0.1)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        started = time.monotonic()
        answer = web.post("/rekam", data=data, content_type="multipart/form-data")
        took = time.monotonic() - started
    finally:
        blocker.rollback()
        blocker.close()
    assert answer.status_code == 409, took
    page = answer.get_data(as_text=True)
    assert 'value="BUDI SANTOSO"' in page and 'class="flash error"' in page
    with _device(settings) as device:
        assert device.drafts(data_key=DK) == [] and device.records() == []


def test_posting_to_a_discarded_draft_keeps_the_typed_values(
    web: FlaskClient, settings: Settings, tmp_path: Path
) -> None:
    data = _new_form(web, tmp_path / "f", action="draft")
    web.post("/rekam", data=data, content_type="multipart/form-data")
    with _device(settings) as device:
        (draft,) = device.drafts(data_key=DK)
        device.discard_draft(draft.id)
    again = form_data(token(web, "/antrean"), tmp_path / "g", changes={"nama": "SITI AMINAH"})
    answer = web.post(f"/draf/{draft.id}", data=again, content_type="multipart/form-data")
    assert answer.status_code == 409
    page = answer.get_data(as_text=True)
    assert 'value="SITI AMINAH"' in page and "tidak ada (lagi)" in page


def test_the_same_nik_twice_on_this_laptop_is_said_on_review_and_after_saving(
    web: FlaskClient, settings: Settings, tmp_path: Path
) -> None:
    _save_new(web, tmp_path / "a")
    answer = web.post("/rekam", data=_new_form(web, tmp_path / "b", seed=3),
                      content_type="multipart/form-data")
    review = web.get(answer.headers["Location"]).get_data(as_text=True)
    assert "sudah pernah direkam di perangkat ini" in review
    draft_id = draft_id_from(answer.headers["Location"])
    saved = web.post(f"/draf/{draft_id}/simpan", data={"csrf_token": token(web, "/antrean")})
    page = web.get(saved.headers["Location"]).get_data(as_text=True)
    assert "sudah pernah direkam di perangkat ini" in page


def test_an_operator_the_office_disabled_is_logged_out_after_the_next_sync(
    web: FlaskClient, settings: Settings
) -> None:
    assert web.get("/antrean").status_code == 200
    with _device(settings) as device:
        profile.store(device.outbox, profile_document(datakey.new_data_key(), operators=False))
    answer = web.get("/antrean")
    assert answer.status_code == 302 and "/masuk" in answer.headers["Location"]


def test_rekam_ulang_twice_opens_the_same_draft(
    web: FlaskClient, settings: Settings, tmp_path: Path
) -> None:
    _save_new(web, tmp_path / "a")
    with _device(settings) as device:
        (row,) = device.records()
    _sent_back(settings, row["id"], "rejected", "Sudah terekam di kecamatan lain.")
    first = web.post(f"/rekaman/{row['id']}/perbaiki", data={"csrf_token": token(web, "/antrean")})
    second = web.post(f"/rekaman/{row['id']}/perbaiki",
                      data={"csrf_token": token(web, "/antrean")})
    assert first.headers["Location"] == second.headers["Location"]
    with _device(settings) as device:
        (draft,) = device.drafts(data_key=DK)
        assert draft.supersedes is None and len(draft.files) == 14


def test_an_unchanged_fix_comes_back_to_the_form_with_the_reason(
    web: FlaskClient, settings: Settings, tmp_path: Path
) -> None:
    _save_new(web, tmp_path / "a")
    with _device(settings) as device:
        (row,) = device.records()
    _sent_back(settings, row["id"], "needs_fix", "Nama tidak sesuai KK.")
    opened = web.post(f"/rekaman/{row['id']}/perbaiki",
                      data={"csrf_token": token(web, "/antrean")})
    review = web.get(opened.headers["Location"] + "/periksa")
    assert review.status_code == 422
    page = review.get_data(as_text=True)
    assert "Belum ada yang diubah" in page and 'id="enroll-form"' in page


def test_a_draft_changed_in_another_window_is_not_saved_stale(
    web: FlaskClient, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from field_client.capture import drafts

    answer = web.post("/rekam", data=_new_form(web, tmp_path / "a"),
                      content_type="multipart/form-data")
    draft_id = draft_id_from(answer.headers["Location"])
    real_prepare = drafts._prepare

    def edited_meanwhile(*args: object, **kwargs: object) -> object:
        found = real_prepare(*args, **kwargs)  # type: ignore[arg-type]
        with _device(settings) as other:  # the other window saves a change now
            draft = other.draft(draft_id, data_key=DK)
            other.save_draft(draft_id, form={**draft.form, "nama": "NAMA BARU"},
                             operator="op.suryadi", data_key=DK)
        return found

    monkeypatch.setattr(drafts, "_prepare", edited_meanwhile)
    saved = web.post(f"/draf/{draft_id}/simpan", data={"csrf_token": token(web, "/antrean")})
    assert saved.status_code == 422
    assert "diubah di jendela lain" in saved.get_data(as_text=True)
    with _device(settings) as device:
        assert device.records() == []
        assert device.draft(draft_id, data_key=DK).form["nama"] == "NAMA BARU"


def test_a_missing_draft_file_is_not_found_not_a_crash(
    web: FlaskClient, settings: Settings, tmp_path: Path
) -> None:
    answer = web.post("/rekam", data=_new_form(web, tmp_path / "a", action="draft"),
                      content_type="multipart/form-data")
    assert answer.status_code == 303
    with _device(settings) as device:
        (draft,) = device.drafts(data_key=DK)
    draft.files["photo"].path.unlink()
    assert web.get(f"/draf/{draft.id}/berkas/photo").status_code == 404
    assert web.get("/draf/not-a-draft/berkas/photo").status_code == 404


def test_a_sync_with_nothing_to_send_and_no_server_is_not_a_success(web: FlaskClient) -> None:
    web.post("/sinkron", data={"csrf_token": token(web, "/antrean")})
    deadline = time.monotonic() + 30
    while (status := web.get("/status.json").get_json())["sync"]["running"]:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert status["sync"]["ok"] is False
    assert "Server tidak terjangkau" in status["sync"]["message"]


def test_previews_open_when_the_home_folder_was_given_as_a_relative_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from field_client.ui import create_app

    monkeypatch.chdir(tmp_path)
    settings = load_settings("instance/demo-field",  # as the README writes it
                             environ={"JEMPUT_TEST_KDF": "1"})
    prepare_device(settings)
    app = create_app(settings)
    app.config["TESTING"] = True
    monkeypatch.chdir("/")  # the web app may be asked for a file from anywhere later on
    with app.test_client() as web:
        assert login(web).status_code == 302
        data = form_data(token(web, "/rekam"), tmp_path / "files")
        answer = web.post("/rekam", data=data, content_type="multipart/form-data")
        assert answer.status_code == 303, answer.get_data(as_text=True)[:2000]
        draft_id = draft_id_from(answer.headers["Location"])
        review = web.get(answer.headers["Location"]).get_data(as_text=True)
        previews = re.findall(rf'src="(/draf/{draft_id}/berkas/[a-z_]+)"', review)
        assert previews, "the review page shows the files it holds"
        for address in previews:
            shown = web.get(address)
            assert shown.status_code == 200, address
            assert shown.data
