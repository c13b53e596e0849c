"""``jemput-field watch`` over a slow link that drops every second: the real client and server.

Every open connection is reset again and again while the files go up; ``watch`` notices each
cut, sees the server straight back and carries on from the server's offsets. In the end every
file is on the server once, whole, and every record is there.
"""

from __future__ import annotations

import hashlib
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from tests.e2e.test_uploads import blob_count, query, stored_files
from tests.support.faultproxy import FaultProxy, Link
from tests.support.processes import FieldCLI, ServerProcess, register
from tests.support.recordings import write_recordings

pytestmark = pytest.mark.e2e

RECORDS = 3
LINK = 256 * 1024  # bytes per second each way: the files take a few seconds
CUT_EVERY = 1.0


def test_watch_carries_on_through_repeated_cuts(
    server: ServerProcess, field: FieldCLI, tmp_path: Path
) -> None:
    batch, expected = write_recordings(tmp_path / "capture", RECORDS, seed=19)
    with FaultProxy(("127.0.0.1", server.port)) as proxy:
        register(field, server, proxy.url)
        imported = field.run("import", str(batch))
        assert imported.returncode == 0, imported.stdout + imported.stderr
        proxy.link = Link.symmetric(LINK)

        stop = threading.Event()
        cuts: list[int] = []

        def cut_every_second() -> None:
            while not stop.wait(CUT_EVERY):
                cuts.append(proxy.cut_all())

        cutter = threading.Thread(target=cut_every_second, daemon=True)
        watching = field.popen("watch")
        cutter.start()
        try:
            deadline = time.monotonic() + 120  # a bound against hanging, not a measurement
            while blob_count(server) < len(expected):
                assert watching.poll() is None, watching.communicate()
                assert time.monotonic() < deadline, "watch never got every file up"
                time.sleep(0.1)
        finally:
            stop.set()
            cutter.join()
            os.killpg(watching.pid, signal.SIGTERM)
            out, err = watching.communicate(timeout=30)

    assert watching.returncode == 0, out + err
    assert "Berhenti setelah" in out and "Traceback" not in err
    # Cuts hit open connections mid-transfer, and watch said so (then went on by itself).
    assert sum(cuts) > 0 and "gagal:" in err, (cuts, err)
    files = stored_files(server)
    assert {name: len(data) for name, data in files.items()} == expected
    for name, data in files.items():
        assert hashlib.sha256(data).hexdigest() == name
    assert query(server, "SELECT count(*), count(DISTINCT sha256) FROM blob") == [
        (len(expected), len(expected))
    ]
    assert query(server, "SELECT count(*) FROM enrollment") == [(RECORDS,)]
