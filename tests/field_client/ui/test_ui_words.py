"""What the operator reads: every problem at once, counted right, in words, never in codes."""

from __future__ import annotations

import io
import re
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient

from field_client.ui.form_fields import CARD_FIELD_NAMES
from shared.vocab import BIOMETRIC_ROLES, EXCEPTION_REASONS
from tests.support.field_ui import form_data, token

_COUNT = re.compile(r"Ada (\d+) isian yang belum benar")
_MARKED = re.compile(r'class="field has-error"|<tr id="bio-[a-z_]+" class="has-error"')


def _new(web: FlaskClient, **fields: str) -> str:
    page = web.get("/rekam").get_data(as_text=True)
    key = re.search(r'name="form_key" value="([^"]+)"', page)
    assert key
    data: dict[str, str] = dict.fromkeys(CARD_FIELD_NAMES, "")
    data.update({"csrf_token": token(web, "/rekam"), "action": "review",
                 "form_key": key.group(1), **fields})
    answer = web.post("/rekam", data=data, content_type="multipart/form-data")
    assert answer.status_code == 422
    return answer.get_data(as_text=True)


def test_every_problem_is_said_at_once_and_counted_as_marked(web: FlaskClient) -> None:
    first = _new(web, nik="610904570890000")  # 15 digits, everything else empty
    count = _COUNT.search(first)
    assert count, first[:2000]
    marked = len(_MARKED.findall(first))
    # Thirteen empty card fields, the short NIK and fourteen biometrics without a file.
    assert int(count.group(1)) == marked == len(CARD_FIELD_NAMES) + len(BIOMETRIC_ROLES)
    assert "NIK harus 16 angka" in first and first.count("Wajib diisi.") == 13
    again = _new(web, nik="6109045708900001")  # only the NIK fixed: one problem fewer
    count = _COUNT.search(again)
    assert count and int(count.group(1)) == len(_MARKED.findall(again)) == marked - 1


def test_the_form_names_biometrics_and_reasons_in_words(web: FlaskClient) -> None:
    page = _new(web, nik="6109045708900001")
    visible = re.sub(r"<[^>]+>", " ", page)  # text a person reads, not attribute values
    for code in (*EXCEPTION_REASONS, *BIOMETRIC_ROLES):
        assert not re.search(rf"(?<![\w-]){code}(?![\w-])", visible), code


def test_a_refused_file_is_named_in_words(web: FlaskClient, tmp_path: Path) -> None:
    data = form_data(token(web, "/rekam"), tmp_path)
    data["file_photo"] = (io.BytesIO(b"not a jpeg at all"), "foto.jpg")
    answer = web.post("/rekam", data=data, content_type="multipart/form-data")
    page = answer.get_data(as_text=True)
    assert "Pilih ulang berkas: foto wajah." in page and "berkas: photo" not in page


def test_both_apps_have_a_favicon(app: Flask, web: FlaskClient) -> None:
    page = web.get("/antrean").get_data(as_text=True)
    assert 'rel="icon"' in page
    icon = web.get("/static/favicon.svg")
    assert icon.status_code == 200 and b"<svg" in icon.data


def test_the_file_inputs_have_names_a_screen_reader_says(web: FlaskClient) -> None:
    page = web.get("/rekam").get_data(as_text=True)
    inputs = re.findall(r'<input type="file"[^>]*>', page)
    assert len(inputs) == len(BIOMETRIC_ROLES)
    assert all('aria-label="Berkas ' in tag for tag in inputs)
