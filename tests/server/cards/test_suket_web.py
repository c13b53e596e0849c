"""Office pages and CLI for the Suket: list, issue form, renew, PDF; refusals write nothing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from tests.support.office import csrf_token, login
from tests.support.suket import add_stock, approved_record, counts, make_due, qr_urls


def test_issue_renew_and_download(app: Flask, client: FlaskClient, push: Callable[..., Any],
                                  make_record: Callable[..., Any]) -> None:
    record_id = approved_record(app, push, make_record)
    login(client, app, "sari", "supervisor")
    page = client.get("/office/suket").get_data(as_text=True)
    assert "Terbitkan Suket" in page and 'id="stock">0<' in page
    token = csrf_token(client, "/office/suket")
    answer = client.post("/office/suket", data={"csrf_token": token, "record_id": record_id},
                         follow_redirects=True)
    text = answer.get_data(as_text=True)
    assert answer.status_code == 200 and "diterbitkan untuk MARIA GORETTI" in text
    assert "/SKT-DKPS/" in text and "Perpanjang" in text
    suket_id = counts(app)["suket_states"][0][0]
    pdf = client.get(f"/office/suket/{suket_id}.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert pdf.headers["Cache-Control"] == "private, no-store"
    [url] = qr_urls(pdf.data)
    assert url.startswith("http://localhost/verify/")
    early = client.post(f"/office/suket/{suket_id}/renew", data={"csrf_token": token},
                        follow_redirects=True)
    assert "paling cepat 30 hari sebelum habis" in early.get_data(as_text=True)
    assert counts(app)["suket_states"][0][3] == 0
    make_due(app, suket_id)
    renewed = client.post(f"/office/suket/{suket_id}/renew", data={"csrf_token": token},
                          follow_redirects=True)
    assert "diperpanjang" in renewed.get_data(as_text=True)
    assert counts(app)["suket_states"][0][3] == 1
    # A form refused: the page says why, nothing changes.
    before = counts(app)
    again = client.post("/office/suket", data={"csrf_token": token, "record_id": record_id})
    assert again.status_code == 409 and "sudah punya Suket" in again.get_data(as_text=True)
    blank = client.post("/office/suket", data={"csrf_token": token, "record_id": " "})
    assert blank.status_code == 400
    no_csrf = client.post("/office/suket", data={"record_id": record_id})
    assert no_csrf.status_code == 400
    assert client.get("/office/suket?status=nope").status_code == 400
    for bad in ("99999", "abc", "1.2"):
        assert client.get(f"/office/suket/{bad}.pdf").status_code == 404
    assert counts(app) == before


def test_viewer_reads_but_cannot_issue(app: Flask, client: FlaskClient,
                                       push: Callable[..., Any],
                                       make_record: Callable[..., Any]) -> None:
    record_id = approved_record(app, push, make_record)
    assert client.get("/office/suket").status_code == 302  # login first
    login(client, app, "vina", "viewer")
    page = client.get("/office/suket").get_data(as_text=True)
    assert "Terbitkan Suket" not in page
    before = counts(app)
    answer = client.post("/office/suket", data={
        "csrf_token": csrf_token(client, "/office/suket"), "record_id": record_id})
    assert answer.status_code == 403
    assert counts(app) == before


def test_cli(app: Flask, runner: FlaskCliRunner, push: Callable[..., Any],
             make_record: Callable[..., Any], tmp_path: Path) -> None:
    record_id = approved_record(app, push, make_record)
    result = runner.invoke(args=["suket-issue", record_id])
    assert result.exit_code == 0, result.output
    assert "/SKT-DKPS/" in result.output
    suket_id = counts(app)["suket_states"][0][0]
    listed = runner.invoke(args=["suket-list", "--state", "valid"])
    assert "MARIA GORETTI" in listed.output
    out = tmp_path / "suket.pdf"
    made = runner.invoke(args=["suket-pdf", str(suket_id), "-o", str(out), "--base-url",
                               "https://jemput.example.id"])
    assert made.exit_code == 0, made.output
    assert qr_urls(out.read_bytes())[0].startswith("https://jemput.example.id/verify/")
    make_due(app, suket_id)
    assert runner.invoke(args=["suket-renew", str(suket_id)]).exit_code == 0
    before = counts(app)
    for args, words in (
        (["suket-issue", record_id], "sudah punya Suket"),
        (["suket-issue", "nope"], "tidak ditemukan"),
        (["suket-pdf", str(suket_id), "-o", str(out)], "JEMPUT_PUBLIC_URL"),
        (["suket-pdf", "999", "-o", str(out), "--base-url", "http://x"], "tidak ditemukan"),
        (["suket-pdf", str(suket_id), "-o", str(out), "--base-url", "ftp://x"], "http"),
    ):
        result = runner.invoke(args=args)
        assert result.exit_code == 1 and words in result.output, (args, result.output)
    assert counts(app) == before
    add_stock(app, 1)
    before = counts(app)
    refused = runner.invoke(args=["suket-renew", str(suket_id)])
    assert refused.exit_code == 1 and "blanko" in refused.output
    assert counts(app) == before
