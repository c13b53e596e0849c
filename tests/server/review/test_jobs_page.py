"""The office's "Pekerjaan latar" page: jobs with their progress; a full check run on demand."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import update

from server.core.extensions import db
from server.core.jobs import queue
from server.core.models import Job
from server.core.models.base import table_of
from server.core.timeutil import utcnow
from tests.support.office import csrf_token, login


def test_a_supervisor_starts_a_full_check_run_and_sees_it_finish(app: Flask) -> None:
    browser = app.test_client()
    login(browser, app, "sari", "supervisor")
    empty = browser.get("/office/jobs").get_data(as_text=True)
    assert "Belum ada pekerjaan latar." in empty and 'http-equiv="refresh"' not in empty
    started = browser.post("/office/jobs/check-all",
                           data={"csrf_token": csrf_token(browser, "/office/jobs")})
    assert started.status_code == 302
    page = browser.get("/office/jobs").get_data(as_text=True)
    assert "Pemeriksaan penuh diantrekan sebagai pekerjaan #1." in page
    assert "Pemeriksaan penuh" in page and "selesai" in page and "oleh" in page
    assert "diperiksa 0" in page and "1 dari 5" in page


def test_a_running_import_shows_its_progress_and_the_page_refreshes(app: Flask) -> None:
    with app.app_context():
        job_id = queue.enqueue("import_population", {"object": "ab" * 16 + ".csv",
                                                     "filename": "penduduk.csv"})
        db.session.execute(update(table_of(Job)).where(Job.id == job_id).values(
            state="running", attempts=1, progress_done=450, progress_total=1000,
            started_at=utcnow(), heartbeat_at=utcnow(), locked_by="kantor:1:worker"))
        db.session.commit()
    browser = app.test_client()
    login(browser, app, "vera", "viewer")
    page = browser.get("/office/jobs").get_data(as_text=True)
    assert "Impor data penduduk" in page and "berjalan" in page
    assert '<progress max="100" value="45">' in page and 'http-equiv="refresh"' in page
    assert "Jalankan pemeriksaan penuh" not in page  # viewers do not start runs


def test_who_may_not_start_a_run_is_refused_and_nothing_is_queued(app: Flask) -> None:
    browser = app.test_client()
    login(browser, app, "rina", "reviewer")
    refused = browser.post("/office/jobs/check-all",
                           data={"csrf_token": csrf_token(browser, "/office/jobs")})
    assert refused.status_code == 403
    assert "tidak boleh menjalankan pemeriksaan penuh" in refused.get_data(as_text=True)
    forged = browser.post("/office/jobs/check-all", data={})
    assert forged.status_code == 400
    assert app.test_client().get("/office/jobs").status_code == 302  # to the login page
    with app.app_context():
        assert queue.recent() == []
