"""The operator web app over the Flask test client: login, the form, drafts, review, save."""

from __future__ import annotations

import re
import threading
from io import BytesIO
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from field_client.capture.drafts import Draft
from field_client.client import FieldClient
from field_client.config import Settings
from field_client.ui import create_app
from tests.support.field import states
from tests.support.field_ui import (
    OPERATOR,
    PIN,
    draft_id_from,
    form_data,
    login,
    prepare_device,
    store_visit_with_targets,
    token,
)
from tests.support.keys import DATA_KEY as DK


def _records(settings: Settings) -> list[dict[str, object]]:
    with FieldClient(settings=settings) as device:
        return device.records(data_key=DK)


def _drafts(settings: Settings) -> list[Draft]:
    with FieldClient(settings=settings) as device:
        return device.drafts(data_key=DK)


# -- access -----------------------------------------------------------------------------------


def test_pages_need_a_logged_in_operator(app: Flask) -> None:
    with app.test_client() as client:
        for path in ("/antrean", "/rekam", "/kunjungan"):
            answer = client.get(path)
            assert answer.status_code == 302
            assert "/masuk" in answer.headers["Location"]
        assert client.get("/status.json").status_code == 401


def test_a_foreign_host_name_is_refused(app: Flask) -> None:
    with app.test_client() as client:
        answer = client.get("/masuk", headers={"Host": "evil.example:8765"})
        assert answer.status_code == 400
        assert "127.0.0.1" in answer.get_data(as_text=True)


def test_post_without_csrf_token_is_refused_and_saves_nothing(
    web: FlaskClient, settings: Settings, tmp_path: Path
) -> None:
    data = form_data("wrong", tmp_path / "files")
    answer = web.post("/rekam", data=data, content_type="multipart/form-data")
    assert answer.status_code == 400
    assert "token keamanan" in answer.get_data(as_text=True)
    assert _drafts(settings) == []
    assert _records(settings) == []


def test_unregistered_laptop_is_sent_to_registration(settings: Settings) -> None:
    app = create_app(settings)
    with app.test_client() as client:
        answer = client.get("/")
        assert answer.status_code == 302 and answer.headers["Location"].endswith("/daftar")
        page = client.get("/daftar").get_data(as_text=True)
        assert "Kode pendaftaran" in page
        answer = client.post(
            "/daftar",
            data={"server_url": "bukan alamat", "code": "x",
                  "csrf_token": token(client, "/daftar")},
        )
        assert answer.status_code == 400
        assert 'class="flash error"' in answer.get_data(as_text=True)
    with FieldClient(settings=settings) as device:
        assert device.status()["registered"] is False


# -- login ------------------------------------------------------------------------------------


def test_right_pin_logs_in_and_shows_the_operator(app: Flask) -> None:
    with app.test_client() as client:
        answer = login(client)
        assert answer.status_code == 302
        page = client.get("/antrean").get_data(as_text=True)
        assert "Suryadi (op.suryadi)" in page


def test_wrong_pin_says_how_many_tries_are_left(app: Flask) -> None:
    with app.test_client() as client:
        answer = login(client, pin="000001")
        assert answer.status_code == 401
        text = answer.get_data(as_text=True)
        assert "Sisa percobaan: 4" in text
        assert client.get("/antrean").status_code == 302  # still not logged in


def test_five_wrong_pins_lock_the_app_even_for_the_right_pin_and_across_a_restart(
    settings: Settings,
) -> None:
    prepare_device(settings)
    app = create_app(settings)
    with app.test_client() as client:
        for _ in range(5):
            assert login(client, pin="111119").status_code == 401
        answer = login(client)  # the right PIN, but locked
        assert answer.status_code == 401
        assert "Terlalu banyak PIN salah" in answer.get_data(as_text=True)
    again = create_app(settings)  # the app restarted: still locked
    with again.test_client() as client:
        answer = login(client)
        assert answer.status_code == 401
        assert "Terlalu banyak PIN salah" in answer.get_data(as_text=True)
        assert client.get("/antrean").status_code == 302


def test_a_laptop_without_operator_list_says_to_sync_first(settings: Settings) -> None:
    prepare_device(settings, operators=False)
    app = create_app(settings)
    with app.test_client() as client:
        page = client.get("/masuk").get_data(as_text=True)
        assert "Belum ada daftar operator" in page


def test_logout_ends_the_session(web: FlaskClient) -> None:
    answer = web.post("/keluar", data={"csrf_token": token(web, "/antrean")})
    assert answer.status_code == 302
    assert web.get("/antrean").status_code == 302


# -- the form ---------------------------------------------------------------------------------


def test_form_offers_the_choices_and_the_kecamatan_desa(web: FlaskClient) -> None:
    page = web.get("/rekam").get_data(as_text=True)
    assert "PETANI/PEKEBUN" in page and "KEPERCAYAAN TERHADAP TUHAN YME" in page
    assert "TEMBAGA (61.09.04.2007)" in page
    assert 'name="file_finger_l_little"' in page and 'name="exc_finger_l_little"' in page
    assert "Ambil foto dengan kamera" in page


def test_wrong_values_get_a_message_next_to_each_field_and_keep_what_was_typed(
    web: FlaskClient, settings: Settings, tmp_path: Path
) -> None:
    data = form_data(
        token(web, "/rekam"),
        tmp_path / "f",
        changes={"nik": "61090457089", "rt": "1A", "nama": "MARIA GORETTI", "agama": ""},
    )
    answer = web.post("/rekam", data=data, content_type="multipart/form-data")
    assert answer.status_code == 422
    page = answer.get_data(as_text=True)
    for name in ("nik", "rt", "agama"):
        assert f'id="err-{name}"' in page, name
    assert 'id="err-nama"' not in page
    assert 'value="61090457089"' in page and 'value="MARIA GORETTI"' in page
    # Everything typed and every file is kept in a draft; no record exists.
    (draft,) = _drafts(settings)
    assert draft.form["nik"] == "61090457089"
    assert len(draft.files) == 14
    assert _records(settings) == []


def test_missing_finger_needs_an_exception_reason(
    web: FlaskClient, settings: Settings, tmp_path: Path
) -> None:
    csrf = token(web, "/rekam")
    data = form_data(csrf, tmp_path / "a", skip_files=("finger_l_little",))
    answer = web.post("/rekam", data=data, content_type="multipart/form-data")
    assert answer.status_code == 422
    page = answer.get_data(as_text=True)
    assert 'id="err-bio.finger_l_little"' in page
    assert _records(settings) == []
    action = re.search(r'action="(/draf/[^"]+)"', page)
    assert action is not None
    draft_id = draft_id_from(action.group(1))
    data = form_data(
        csrf, tmp_path / "b", skip_files=("finger_l_little",),
        exceptions={"finger_l_little": "amputated"},
    )
    answer = web.post(f"/draf/{draft_id}", data=data, content_type="multipart/form-data")
    assert answer.status_code == 303
    assert answer.headers["Location"].endswith(f"/draf/{draft_id}/periksa")


def test_a_refused_file_is_named_and_the_rest_is_kept(
    web: FlaskClient, settings: Settings, tmp_path: Path
) -> None:
    data = form_data(token(web, "/rekam"), tmp_path / "f")
    data["file_photo"] = (BytesIO(b""), "kosong.jpg")
    answer = web.post("/rekam", data=data, content_type="multipart/form-data")
    assert answer.status_code == 422
    page = answer.get_data(as_text=True)
    assert 'id="err-bio.photo"' in page
    (draft,) = _drafts(settings)
    assert "photo" not in draft.files and len(draft.files) == 13
    assert draft.form["nama"] == "MARIA GORETTI"
    assert _records(settings) == []


def test_review_then_save_gives_the_record_number_and_a_double_click_makes_one_record(
    web: FlaskClient, settings: Settings, tmp_path: Path
) -> None:
    data = form_data(token(web, "/rekam"), tmp_path / "f")
    answer = web.post("/rekam", data=data, content_type="multipart/form-data")
    assert answer.status_code == 303
    review = answer.headers["Location"]
    draft_id = draft_id_from(review)
    page = web.get(review).get_data(as_text=True)
    assert "Periksa sebelum simpan" in page and "MARIA GORETTI" in page
    csrf = token(web, review)
    first = web.post(f"/draf/{draft_id}/simpan", data={"csrf_token": csrf})
    second = web.post(f"/draf/{draft_id}/simpan", data={"csrf_token": csrf})
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"]
    saved = web.get(first.headers["Location"]).get_data(as_text=True)
    assert "Tersimpan aman di laptop" in saved
    rows = _records(settings)
    assert len(rows) == 1 and rows[0]["state"] == "ready" and rows[0]["operator"] == OPERATOR
    assert f'id="record-seq">{rows[0]["seq"]}<' in saved
    assert _drafts(settings) == []


def test_two_simultaneous_saves_make_one_record(
    app: Flask, settings: Settings, tmp_path: Path
) -> None:
    with app.test_client() as client:
        login(client)
        answer = client.post(
            "/rekam", data=form_data(token(client, "/rekam"), tmp_path / "f"),
            content_type="multipart/form-data",
        )
        draft_id = draft_id_from(answer.headers["Location"])
        csrf = token(client, "/antrean")
        cookie = client.get_cookie("jemput_field")
        assert cookie is not None
    results: list[int] = []

    def save() -> None:
        with app.test_client() as other:
            other.set_cookie("jemput_field", cookie.value)
            results.append(other.post(f"/draf/{draft_id}/simpan",
                                      data={"csrf_token": csrf}).status_code)

    threads = [threading.Thread(target=save) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [303] * 4
    assert len(_records(settings)) == 1
    assert states(settings.outbox_path) == {"ready": 1}


def test_save_as_draft_goes_to_the_queue_and_can_be_continued(
    web: FlaskClient, settings: Settings, tmp_path: Path
) -> None:
    data = form_data(token(web, "/rekam"), tmp_path / "f", changes={"nama": ""}, action="draft")
    answer = web.post("/rekam", data=data, content_type="multipart/form-data")
    assert answer.status_code == 303 and answer.headers["Location"].endswith("/antrean")
    queue = web.get("/antrean").get_data(as_text=True)
    assert "Lanjutkan" in queue and 'id="count-draft">1<' in queue
    (draft,) = _drafts(settings)
    page = web.get(f"/draf/{draft.id}").get_data(as_text=True)
    assert 'value="6109045708900001"' in page
    discard = web.post(f"/draf/{draft.id}/hapus", data={"csrf_token": token(web, "/antrean")})
    assert discard.status_code == 302
    assert _drafts(settings) == []


def test_nik_is_checked_while_typed(web: FlaskClient) -> None:
    short = web.get("/periksa-nik.json?nik=61090457").get_json()
    assert short["ok"] is False and short["errors"]["nik"]
    good = web.get(
        "/periksa-nik.json?nik=6109045708900001&tanggal_lahir=1990-08-17&jenis_kelamin=PEREMPUAN"
    ).get_json()
    assert good["ok"] is True and good["warnings"] == []
    assert good["facts"]["jenis_kelamin"] == "PEREMPUAN"
    mismatch = web.get(
        "/periksa-nik.json?nik=6109045708900001&tanggal_lahir=1990-08-17&jenis_kelamin=LAKI-LAKI"
    ).get_json()
    assert [w["field"] for w in mismatch["warnings"]] == ["jenis_kelamin"]


def test_status_reports_offline_and_counts(web: FlaskClient) -> None:
    status = web.get("/status.json").get_json()
    assert status["online"] is False
    assert status["total"] == 0 and status["sync"]["running"] is False
    assert status["last_sync_at"] is None


def test_a_target_prefills_the_form(web: FlaskClient, settings: Settings) -> None:
    store_visit_with_targets(settings)
    page = web.get("/kunjungan").get_data(as_text=True)
    assert "belum" in page
    row = re.search(r'<tr data-nik="(\d{16})"', page)
    assert row is not None
    nik = row.group(1)
    answer = web.post("/rekam/sasaran", data={"nik": nik, "csrf_token": token(web, "/kunjungan")})
    assert answer.status_code == 302
    form = web.get(answer.headers["Location"]).get_data(as_text=True)
    assert f'value="{nik}"' in form
    search = web.get(f"/kunjungan?q={nik[-6:]}").get_data(as_text=True)
    assert f'data-nik="{nik}"' in search
    too_long = web.get("/kunjungan?q=" + "x" * 500)
    assert too_long.status_code == 400


def test_wrong_pin_for_a_session_cookie_from_elsewhere_gets_nothing(app: Flask) -> None:
    with app.test_client() as client:
        client.set_cookie("jemput_field", "forged")
        assert client.get("/antrean").status_code == 302


def test_pin_is_never_in_the_page(app: Flask) -> None:
    with app.test_client() as client:
        page = login(client, pin="999999").get_data(as_text=True)
        assert "999999" not in page and PIN not in page


def test_times_are_shown_on_the_laptop_clock() -> None:
    import datetime as dt

    from field_client.store.records import local_time

    moment = dt.datetime(2026, 11, 29, 9, 53, tzinfo=dt.UTC)
    assert local_time("2026-11-29T09:53:26Z") == moment.astimezone().strftime("%d-%m-%Y %H:%M")
    assert local_time(None) == "" and local_time("bukan waktu") == "bukan waktu"


def test_a_long_queue_shows_the_newest_rows_and_says_how_many_are_left_out(
    web: FlaskClient, settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from field_client.ui import queue_views
    from tests.support.field import biometric_files, person

    monkeypatch.setattr(queue_views, "MAX_ROWS", 2)
    files = biometric_files(tmp_path / "f")
    with FieldClient(settings=settings) as device:
        for index in (1, 2, 3):
            device.enroll(person(index), operator=OPERATOR, files=files, data_key=DK)
    page = web.get("/antrean").get_data(as_text=True)
    assert 'id="rec-3"' in page and 'id="rec-2"' in page and 'id="rec-1"' not in page
    assert "1 rekaman lebih lama tidak ditampilkan" in page
    assert 'id="count-total">3<' in page


def test_the_new_form_offers_a_search_of_the_target_list(
    web: FlaskClient, settings: Settings
) -> None:
    store_visit_with_targets(settings)
    page = web.get("/rekam").get_data(as_text=True)
    assert 'id="target-search"' in page and 'action="/kunjungan"' in page
    found = web.get("/kunjungan?q=warga+nomor+2&tampil=belum").get_data(as_text=True)
    assert found.count("<tr data-nik=") == 1 and "WARGA NOMOR 2" in found
