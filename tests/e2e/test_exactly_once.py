"""Exactly once, end to end: a real server process, the real client CLI, a hostile network.

Whatever the network or a kill -9 does, afterwards the server holds every record exactly once
and the client has nothing left to send. On protocol 2 every record travels sealed to the office
key (the server deduplicates on the id and the sealed bytes' hash, or the plaintext hash of a
record sealed anew), and every stored record says it arrived so (its sealed hash and key id).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from server.demo.residents import synthetic_biometrics, synthetic_residents
from tests.support.faultproxy import PASS, Fault, FaultProxy, random_cuts
from tests.support.processes import EX_TEMPFAIL, FieldCLI, ServerProcess, register

pytestmark = pytest.mark.e2e


def write_batch(path: Path, count: int, seed: int) -> Path:
    # One complete set of files for everyone: these tests are about records, not file transfer.
    recording = synthetic_biometrics(path.parent / "scans", seed)
    files = {role: str(file) for role, file in recording.files.items()}
    with path.open("w", encoding="utf-8") as out:
        for payload in synthetic_residents(count, seed=seed):
            line = {"operator": "op.e2e", "payload": payload, "files": files,
                    "exceptions": recording.exceptions}
            out.write(json.dumps(line) + "\n")
    return path


def server_counts(server: ServerProcess) -> tuple[int, int]:
    """(rows, distinct ids) in the server's enrollment table."""
    if server.database_url:
        import psycopg

        with psycopg.connect(server.database_url) as conn:
            row = conn.execute("SELECT count(*), count(DISTINCT id) FROM enrollment").fetchone()
    else:
        with sqlite3.connect(server.instance / "jemput.db") as conn:
            row = conn.execute("SELECT count(*), count(DISTINCT id) FROM enrollment").fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def server_sealed_rows(server: ServerProcess) -> int:
    """Enrollments that arrived sealed (protocol 2): with the sealed bytes' hash and key id."""
    sql = ("SELECT count(*) FROM enrollment "
           "WHERE sealed_sha256 IS NOT NULL AND key_id IS NOT NULL")
    if server.database_url:
        import psycopg

        with psycopg.connect(server.database_url) as conn:
            row = conn.execute(sql).fetchone()
    else:
        with sqlite3.connect(server.instance / "jemput.db") as conn:
            row = conn.execute(sql).fetchone()
    assert row is not None
    return int(row[0])


def outbox_states(field: FieldCLI) -> dict[str, int]:
    with sqlite3.connect(field.home / "outbox.sqlite3") as conn:
        return dict(conn.execute("SELECT state, count(*) FROM record GROUP BY state").fetchall())


def enroll_offline(field: FieldCLI, tmp_path: Path, count: int, seed: int = 1) -> None:
    done = field.run("import", str(write_batch(tmp_path / "batch.jsonl", count, seed)))
    assert done.returncode == 0, done.stdout + done.stderr
    assert outbox_states(field) == {"ready": count}


def registered_with_records(
    field: FieldCLI, server: ServerProcess, url: str, tmp_path: Path, count: int
) -> None:
    """A laptop registered through ``url`` holding ``count`` records recorded offline."""
    register(field, server, url)
    enroll_offline(field, tmp_path, count)


def sync_until_done(field: FieldCLI, attempts: int = 60) -> int:
    """Run ``sync`` as an operator would after each failure; return how many runs it took."""
    for attempt in range(1, attempts + 1):
        done = field.run("sync")
        if done.returncode == 0:
            return attempt
        assert done.returncode == EX_TEMPFAIL, done.stdout + done.stderr
    raise AssertionError(f"sync did not finish in {attempts} runs")


def assert_exactly_once(server: ServerProcess, field: FieldCLI, count: int) -> None:
    assert server_counts(server) == (count, count)
    assert server_sealed_rows(server) == count  # every one pushed sealed, on protocol 2
    states = outbox_states(field)
    assert states.get("ready", 0) == 0
    assert sum(states.values()) == count


def heal_and_finish(proxy: FaultProxy, server: ServerProcess, field: FieldCLI, count: int) -> None:
    """The link comes back: one ``sync`` finishes the job and nothing is stored twice."""
    proxy.fault_for = lambda _: PASS
    done = field.run("sync")
    assert done.returncode == 0, done.stdout + done.stderr
    assert_exactly_once(server, field, count)


@pytest.fixture
def proxy(server: ServerProcess) -> Iterator[FaultProxy]:
    with FaultProxy(("127.0.0.1", server.port)) as running:
        yield running


def test_random_cuts_in_both_directions(
    server: ServerProcess, field: FieldCLI, proxy: FaultProxy, tmp_path: Path
) -> None:
    registered_with_records(field, server, proxy.url, tmp_path, 400)
    proxy.fault_for = random_cuts(seed=2026, max_offset=120_000, probability=0.7)
    runs = sync_until_done(field)
    assert proxy.stats.cuts > 0
    assert runs >= 1
    assert_exactly_once(server, field, 400)


def test_answer_lost_after_the_server_committed(
    server: ServerProcess, field: FieldCLI, proxy: FaultProxy, tmp_path: Path
) -> None:
    registered_with_records(field, server, proxy.url, tmp_path, 150)
    # Every answer is cut before its first byte reaches the client: the server commits, the
    # client never learns it.
    proxy.fault_for = lambda _: Fault(cut_downstream_after=0)
    lost = field.run("sync")
    assert lost.returncode == EX_TEMPFAIL, lost.stdout + lost.stderr
    assert server_counts(server)[0] > 0
    assert outbox_states(field) == {"ready": 150}  # nothing marked without an answer
    heal_and_finish(proxy, server, field, 150)


def test_network_down_keeps_everything(
    server: ServerProcess, field: FieldCLI, proxy: FaultProxy, tmp_path: Path
) -> None:
    registered_with_records(field, server, proxy.url, tmp_path, 20)
    proxy.fault_for = lambda _: Fault(refuse=True)
    down = field.run("sync")
    assert down.returncode == EX_TEMPFAIL
    assert down.stderr.strip()  # a plain message, no traceback
    assert "Traceback" not in down.stderr
    assert outbox_states(field) == {"ready": 20}
    assert server_counts(server) == (0, 0)
    heal_and_finish(proxy, server, field, 20)


def test_client_killed_mid_sync_and_restarted(
    server: ServerProcess, field: FieldCLI, proxy: FaultProxy, tmp_path: Path
) -> None:
    registered_with_records(field, server, proxy.url, tmp_path, 1200)
    proxy.fault_for = lambda _: Fault(throttle_bps=60_000)
    running = field.popen("sync")
    _wait_for_first_commit(server)
    os.killpg(running.pid, signal.SIGKILL)
    running.wait(timeout=10)
    assert running.returncode == -signal.SIGKILL
    assert outbox_states(field).get("ready", 0) > 0  # it really died in the middle
    proxy.fault_for = lambda _: PASS
    with sqlite3.connect(field.home / "outbox.sqlite3") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert sync_until_done(field) >= 1
    assert_exactly_once(server, field, 1200)


def test_server_killed_mid_push_and_restarted(
    server: ServerProcess, field: FieldCLI, proxy: FaultProxy, tmp_path: Path
) -> None:
    registered_with_records(field, server, proxy.url, tmp_path, 1200)
    proxy.fault_for = lambda _: Fault(throttle_bps=60_000)
    running = field.popen("sync")
    _wait_for_first_commit(server)
    server.kill9()
    out, err = running.communicate(timeout=120)
    assert running.returncode == EX_TEMPFAIL, out + err
    assert outbox_states(field).get("ready", 0) > 0
    server.start()
    proxy.fault_for = lambda _: PASS
    assert sync_until_done(field) >= 1
    assert_exactly_once(server, field, 1200)


def _wait_for_first_commit(server: ServerProcess, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if server_counts(server)[0] > 0:
                return
        except sqlite3.Error:  # the server is still creating or writing the table
            pass
        time.sleep(0.05)
    raise AssertionError("no record reached the server")


@pytest.fixture(params=["sqlite", "postgresql"])
def any_backend_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ServerProcess]:
    """A server process on SQLite, and on PostgreSQL when JEMPUT_TEST_DATABASE_URL is set."""
    instance = tmp_path / "instance"
    instance.mkdir()
    database_url = None
    if request.param == "postgresql":
        base = os.environ.get("JEMPUT_TEST_DATABASE_URL")
        if not base:
            pytest.skip("JEMPUT_TEST_DATABASE_URL is not set")
        database_url = _fresh_pg_database(base, f"e2e_{uuid.uuid4().hex[:12]}")
    proc = ServerProcess(instance, database_url=database_url)
    proc.cli("init")
    proc.start()
    yield proc
    proc.stop()
    if database_url:
        _drop_pg_database(database_url)


def test_same_batch_pushed_twice_at_once_from_two_processes(
    any_backend_server: ServerProcess, field: FieldCLI, tmp_path: Path
) -> None:
    server = any_backend_server
    registered_with_records(field, server, server.url, tmp_path, 600)
    twin = FieldCLI(tmp_path / "twin-home")
    shutil.copytree(field.home, twin.home)  # the same device, the same records, byte for byte
    results: dict[str, subprocess.CompletedProcess[str]] = {}
    threads = [
        threading.Thread(target=lambda c=cli, n=name: results.__setitem__(n, c.run("sync")))
        for name, cli in (("a", field), ("b", twin))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results["a"].returncode == 0, results["a"].stderr
    assert results["b"].returncode == 0, results["b"].stderr
    assert_exactly_once(server, field, 600)
    assert_exactly_once(server, twin, 600)


def _fresh_pg_database(base_url: str, name: str) -> str:
    import psycopg

    with psycopg.connect(base_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return base_url.rsplit("/", 1)[0] + "/" + name


def _drop_pg_database(url: str) -> None:
    import psycopg

    base, name = url.rsplit("/", 1)
    with psycopg.connect(base + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
