"""Biometric files over a hostile link, end to end: a real server, the real client, a proxy.

50 residents with realistic files (photo ~30 KB, ten fingers ~20 KB, two irises ~30 KB, a
signature ~10 KB) are synced while the proxy cuts connections every few hundred KB and the
client is killed twice. The files travel sealed to the office key (protocol 2: the upload's
length and chunk checksums cover the sealed bytes, the server opens the last chunk's result).
Afterwards every file on the server matches its plaintext hash, nothing is stored twice, and the
bytes sent again after each interruption are at most one chunk.
"""

from __future__ import annotations

import hashlib
import os
import random
import signal
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from shared.sealing import SEAL_OVERHEAD
from tests.support.faultproxy import PASS, Fault, FaultProxy
from tests.support.jobs import wait_for_jobs
from tests.support.processes import EX_TEMPFAIL, FieldCLI, ServerProcess, register
from tests.support.recordings import write_recordings

pytestmark = pytest.mark.e2e

RECORDS = 50
CHUNK = 256 * 1024
def query(server: ServerProcess, sql: str) -> list[tuple[object, ...]]:
    """Rows from the server's SQLite database (read-only, while the server runs)."""
    with sqlite3.connect(f"file:{server.instance / 'jemput.db'}?mode=ro", uri=True) as conn:
        return conn.execute(sql).fetchall()


def blob_count(server: ServerProcess) -> int:
    try:
        return int(query(server, "SELECT count(*) FROM blob")[0][0])  # type: ignore[call-overload]
    except sqlite3.Error:
        return 0


def stored_files(server: ServerProcess) -> dict[str, bytes]:
    """Every finished blob file in the store, by file name (its claimed SHA-256)."""
    root = server.instance / "blobs"
    return {
        path.name: path.read_bytes()
        for path in root.rglob("*")
        if path.is_file() and "partial" not in path.relative_to(root).parts
    }


def kill_when(field: FieldCLI, ready: Callable[[], bool], timeout: float = 60) -> None:
    """Start ``sync``, SIGKILL it once ``ready()`` holds, as a dead battery would."""
    running = field.popen("sync")
    deadline = time.monotonic() + timeout
    while not ready():
        assert running.poll() is None, running.communicate()
        assert time.monotonic() < deadline, "the upload never got that far"
        time.sleep(0.02)
    os.killpg(running.pid, signal.SIGKILL)
    running.wait(timeout=10)
    assert running.returncode == -signal.SIGKILL


def cut_every_few_hundred_kb(seed: int) -> Callable[[int], Fault]:
    rng = random.Random(seed)
    return lambda _: Fault(cut_upstream_after=rng.randrange(150_000, 450_000))


def test_fifty_recordings_through_cuts_and_two_kills(
    server: ServerProcess, field: FieldCLI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JEMPUT_FIELD_CHUNK_SIZE", str(CHUNK))
    batch, expected = write_recordings(tmp_path / "capture", RECORDS, seed=33)
    with FaultProxy(("127.0.0.1", server.port)) as proxy:
        register(field, server, proxy.url)
        imported = field.run("import", str(batch))
        assert imported.returncode == 0, imported.stdout + imported.stderr

        # A slow link, and the laptop dies twice in the middle of sending the files.
        proxy.fault_for = lambda _: Fault(throttle_bps=1_500_000)
        kill_when(field, lambda: blob_count(server) >= 100)
        kill_when(field, lambda: blob_count(server) >= 350)
        kills = 2

        # Then a link that drops every few hundred KB: sync again after every failure.
        proxy.fault_for = cut_every_few_hundred_kb(seed=7)
        for _ in range(80):
            done = field.run("sync")
            if done.returncode == 0:
                break
            assert done.returncode == EX_TEMPFAIL, done.stdout + done.stderr
            assert "Traceback" not in done.stderr
        else:
            pytest.fail("sync never finished through the cuts")
        cuts = proxy.stats.cuts
        proxy.fault_for = lambda _: PASS
        final = field.run("sync")
        assert final.returncode == 0, final.stdout + final.stderr

    assert cuts > 0
    # Every file is on the server once, and its bytes hash to its name.
    files = stored_files(server)
    assert {name: len(data) for name, data in files.items()} == expected
    for name, data in files.items():
        assert hashlib.sha256(data).hexdigest() == name
    assert query(server, "SELECT count(*), count(DISTINCT sha256) FROM blob") == [
        (len(expected), len(expected))
    ]
    # Every record completed; the checks that follow (the server's job thread) found none in
    # the (empty) registry.
    wait_for_jobs(server.instance)
    assert query(server, "SELECT state, count(*) FROM enrollment GROUP BY state") == [
        ("needs_review", RECORDS)
    ]
    # Every upload carried the file sealed to the office key (protocol 2): its length is the
    # sealed bytes', its plaintext size travelled in the metadata.
    uploads_seen = query(server, "SELECT sha256, length, plain_size, key_id FROM upload")
    assert {row[0] for row in uploads_seen} == set(expected)
    for sha256, length, plain_size, key_id in uploads_seen:
        assert (length, plain_size) == (expected[str(sha256)] + SEAL_OVERHEAD,
                                        expected[str(sha256)])
        assert key_id
    # Bytes that crossed the link more than once: at most one chunk per interruption.
    received = int(query(server, "SELECT sum(received_bytes) FROM upload")[0][0])  # type: ignore[call-overload]
    resent = received - sum(size + SEAL_OVERHEAD for size in expected.values())
    assert 0 <= resent <= (cuts + kills) * CHUNK, (resent, cuts)
    with sqlite3.connect(field.home / "outbox.sqlite3") as conn:
        states = dict(conn.execute("SELECT state, count(*) FROM record GROUP BY state").fetchall())
        uploads = dict(conn.execute("SELECT state, count(*) FROM upload GROUP BY state").fetchall())
    assert states == {"complete": RECORDS}
    assert uploads == {"done": len(expected)}
