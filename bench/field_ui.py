"""The operator web app on a laptop that has been out for a while: page and save times.

Builds a device home (scratch folder) with ``--records`` saved records, a visit of
``--targets`` residents and an operator list, then times, over the Flask test client (no
network, as on the laptop): the queue page, ``status.json`` (what the page polls), the visit
page with a search, the NIK check, and one whole enrollment: the form POST with 14 biometric
files (a draft, files encrypted under the data key) plus the save (the record and its files
sealed to the office key, durable in the outbox). The operator is logged in with a PIN (test
KDF cost: the login's real 0.25 s is measured in its own benchmark); the target list rests
under the data key as the server sends it.
Not timed: filling the home. Prints a table (median of 7 after a warm-up; the save once per
run, 7 runs).

    .venv/bin/python -m bench.field_ui [--records 2000] [--targets 2000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.timing import median_ms
from field_client.client import FieldClient
from field_client.config import load_settings
from field_client.store import records, targets
from field_client.ui import create_app
from shared import datakey
from shared.schemas import TargetListSchema, TargetsContentSchema
from shared.sealing import b64
from tests.support.field import biometric_files, person
from tests.support.field_ui import OPERATOR, form_data, login, prepare_device, token
from tests.support.keys import DATA_KEY as DK
from tests.support.targets import target, visit


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=2000)
    parser.add_argument("--targets", type=int, default=2000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        settings = load_settings(folder / "home", environ={"JEMPUT_TEST_KDF": "1"})
        started = time.perf_counter()
        _fill(settings, folder, args.records, args.targets)
        filled = time.perf_counter() - started
        app = create_app(settings)
        with app.test_client() as web:
            login(web)
            rows = _measure(web, folder)
    print(f"# field web app, {args.records} records, {args.targets} targets on the laptop "
          f"(filled in {filled:.1f} s); {platform.machine()}, Python {platform.python_version()}")
    print(f"{'what':<52} {'median ms':>10}")
    for name, value in rows:
        print(f"{name:<52} {value:>10.1f}")
    return 0


def _fill(settings: Any, folder: Path, count: int, target_count: int) -> None:
    prepare_device(settings)
    files = biometric_files(folder / "files")
    with FieldClient(settings=settings) as device:
        for index in range(1, count + 1):
            device.enroll(person(index % 9999 + 1), operator=OPERATOR, files=files, data_key=DK)
        planned = visit(start=dt.date.today(), days=3)
        # The list as the server sends it: one box under the device's data key.
        content = {"targets": [target(i + 1) for i in range(target_count)]}
        sealed = b64(datakey.encrypt_json(DK, TargetsContentSchema().dump(
            TargetsContentSchema().load(content))))
        answer = TargetListSchema().load({"visit": planned, "sealed": sealed})
        with device.outbox.atomic():
            targets.store_visit(device.outbox, answer, records.utc_now())


def _measure(web: Any, folder: Path) -> list[tuple[str, float]]:
    csrf = token(web, "/antrean")
    seeds = iter(range(1000, 2000))

    def enroll_once() -> None:
        seed = next(seeds)
        page = web.get("/rekam").get_data(as_text=True)
        key = re.search(r'name="form_key" value="([^"]+)"', page)
        data = form_data(csrf, folder / f"s{seed}", seed=seed % 200)
        data["form_key"] = key.group(1) if key else ""
        answer = web.post("/rekam", data=data, content_type="multipart/form-data")
        assert answer.status_code == 303, answer.status_code
        _ok(web, answer.headers["Location"])  # the review screen
        draft = answer.headers["Location"].rsplit("/", 1)[0]
        saved = web.post(f"{draft}/simpan", data={"csrf_token": csrf})
        assert saved.status_code == 303, saved.status_code

    return [
        ("queue page (newest 300 rows, counts of all)", median_ms(lambda: _ok(web, "/antrean"))),
        ("status.json (polled by every page)", median_ms(lambda: _ok(web, "/status.json"))),
        ("visit page, search by name", median_ms(lambda: _ok(web, "/kunjungan?q=warga+nomor+1"))),
        ("NIK check while typing", median_ms(
            lambda: _ok(web, "/periksa-nik.json?nik=6109045708900001&jenis_kelamin=PEREMPUAN"))),
        ("one enrollment: form + 14 files + review + save", median_ms(enroll_once)),
    ]


def _ok(web: Any, path: str) -> None:
    answer = web.get(path)
    assert answer.status_code == 200, (path, answer.status_code)


if __name__ == "__main__":
    sys.exit(main())
