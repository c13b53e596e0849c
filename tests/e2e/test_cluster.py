"""Past one machine, proven: two app servers behind nginx, one PostgreSQL, one S3 bucket, a worker.

The cluster of tests/support/cluster.py: nginx (the deployed site, over TLS) round-robins over
two gunicorn app servers, each with its own instance folder, sharing one PostgreSQL database,
one SeaweedFS bucket prefix, the secret key and the office key ring; ``jemput-server worker``
beside them runs the checks the app servers only enqueue. The laptop's link is the fault proxy,
a TCP proxy in front of nginx: TLS runs end to end through it. nginx listens on 127.0.0.2 on the
proxy's own port, so the port the laptop dials is the one nginx names in every tus ``Location``
(as 443 is on both sides in production).

1. Four laptops (the real ``jemput-field``) send 30 records with their 14 files each at once
   (``JEMPUT_CLUSTER_RECORDS=100`` for more: the S3 store's cost per file, about 10 files a
   second on this 2-core machine, sets the test's length) while their first connections are
   cut mid-upload and one app server is killed with ``kill -9`` once a quarter of the files
   arrived, then started again; each laptop runs ``sync`` again until it reports everything
   sent. Every record is stored once, every file is in the bucket with the bytes the laptop
   recorded, the worker checked every record, no request waited in nginx as long as the lock
   timeout; an office login made on one host holds on the other, and a Suket issued on one
   verifies on the other.
2. The worker is killed in the middle of a check job (held inside it by the checks' advisory
   lock, taken first by the test): the job is run again by a new worker and leaves exactly the
   cases one run makes (a full ``run-checks`` afterwards changes nothing).
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from server.review.checks import ADVISORY_LOCK as CHECKS_LOCK
from tests.support.cluster import Cluster, running_cluster
from tests.support.faultproxy import PASS, Fault, FaultProxy
from tests.support.nginx import nginx_binary
from tests.support.processes import (
    EX_TEMPFAIL,
    FieldCLI,
    ServerProcess,
    add_operator,
    register,
)
from tests.support.recordings import write_recordings
from tests.support.seaweed import fresh_prefix, seaweed
from tests.support.server_app import PG_URL

__all__ = ["seaweed"]  # the session fixture, used by name

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(nginx_binary() is None,
                       reason="nginx is not installed (apt-get install nginx)"),
    pytest.mark.skipif(not PG_URL, reason="JEMPUT_TEST_DATABASE_URL is not set (PostgreSQL)"),
]
#: Records sent, shared among the laptops syncing at once (14 files each), and those laptops.
RECORDS = int(os.environ.get("JEMPUT_CLUSTER_RECORDS") or 100)
LAPTOPS = 4
#: How long a request may wait for a database lock before it gives up (the server's default).
LOCK_TIMEOUT = float(os.environ.get("JEMPUT_LOCK_TIMEOUT_SECONDS") or 10)
#: Where the laptops' first connections after the import are cut (bytes sent).
CUTS = [60_000, 400_000, 1_500_000]
SYNC_SECONDS = 240.0
SETTLE_SECONDS = 45.0
CHECKED = {"verified", "needs_review"}
#: The field operator of every laptop (tests/support/recordings.py names it in each record).
OPERATOR = "op.e2e"
COOKIE = "jemput_office"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Site:
    """The cluster and the laptop's faulty link to its nginx."""

    cluster: Cluster
    proxy: FaultProxy

    @property
    def url(self) -> str:
        """Where laptops connect: the proxy, on the port nginx listens on (another address)."""
        return f"https://127.0.0.1:{self.proxy.port}"


@pytest.fixture(scope="module")
def site(seaweed: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("cluster")
    proxy = FaultProxy(("127.0.0.2", 0))
    proxy.target = ("127.0.0.2", proxy.port)
    assert PG_URL
    with pytest.MonkeyPatch.context() as patch, proxy, running_cluster(
            root, PG_URL, seaweed, fresh_prefix(), nginx_host="127.0.0.2",
            nginx_port=proxy.port) as cluster:
        patch.setenv("REQUESTS_CA_BUNDLE", str(cluster.nginx.cert))  # laptops trust the CA
        yield Site(cluster, proxy)


class KillOnArrival(threading.Thread):
    """``kill -9`` one app server once ``after`` files are stored, then start it again."""

    def __init__(self, cluster: Cluster, server: ServerProcess, after: int,
                 timeout: float) -> None:
        super().__init__(name="kill-app-server", daemon=True)
        self.cluster, self.server, self.after = cluster, server, after
        self.deadline = time.monotonic() + timeout
        self.killed_at: int | None = None  # files stored when it was killed
        self.restarted = False
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while time.monotonic() < self.deadline:
                stored = files_stored(self.cluster)
                if stored >= self.after:
                    self.server.kill9()
                    self.killed_at = stored
                    time.sleep(1.0)  # requests meanwhile find it dead: nginx's other host
                    self.cluster.start_server(self.server)
                    self.restarted = True
                    return
                time.sleep(0.1)
        except BaseException as exc:
            self.error = exc


def cut_first(offsets: list[int]) -> Callable[[int], Fault]:
    """A plan cutting the first connections from now on, each after its offset in bytes sent
    (the laptops' first requests, mid-upload), and passing the rest."""
    lock, left = threading.Lock(), list(offsets)

    def plan(_: int) -> Fault:
        with lock:
            return Fault(cut_upstream_after=left.pop(0)) if left else PASS

    return plan


def files_stored(cluster: Cluster) -> int:
    return int(cluster.query("SELECT count(*) FROM blob")[0][0])


def sync_until_done(field: FieldCLI, seconds: float) -> list[int]:
    """Run ``sync`` as an operator would after each failure, until it reports all sent;
    return the exit status of every run."""
    deadline = time.monotonic() + seconds
    codes: list[int] = []
    while True:
        left = deadline - time.monotonic()
        assert left > 0, f"sync did not finish in {seconds} s: {codes}"
        done = field.run("sync", timeout=left)
        codes.append(done.returncode)
        if done.returncode == 0:
            return codes
        assert done.returncode == EX_TEMPFAIL, done.stdout + done.stderr


def settled(cluster: Cluster, seconds: float = SETTLE_SECONDS) -> tuple[dict[str, int],
                                                                        dict[str, int]]:
    """Wait until no record waits for its checks and no job is due or running; return
    ``(records per state, jobs per state)``."""
    deadline = time.monotonic() + seconds
    while True:
        states = dict(cluster.query("SELECT state, count(*) FROM enrollment GROUP BY state"))
        # A job queued for later (the coverage refresh of the coming midnight) is not waited for.
        jobs = dict(cluster.query("SELECT state, count(*) FROM job "
                                  "WHERE state <> 'queued' OR run_after <= now() GROUP BY state"))
        if not {"received", "complete"} & set(states) and not {"queued", "running"} & set(jobs):
            return states, jobs
        assert time.monotonic() < deadline, f"not settled in {seconds} s: {states}, {jobs}"
        time.sleep(0.2)


def objects(cluster: Cluster) -> dict[str, bytes]:
    """Every blob object of the cluster's prefix and its bytes."""
    client = cluster.s3.client()
    found: dict[str, bytes] = {}
    for page in client.get_paginator("list_objects_v2").paginate(
            Bucket=cluster.s3.bucket, Prefix=f"{cluster.prefix}/sha256/"):
        for item in page.get("Contents", []):
            found[item["Key"]] = client.get_object(Bucket=cluster.s3.bucket,
                                                   Key=item["Key"])["Body"].read()
    return found


def office_login(host: str, username: str, password: str) -> str:
    """Log in to the office on one app server directly; the session cookie's value.

    The cookie is ``Secure`` (JEMPUT_SECURE_COOKIES, as deployed): a client keeps it off plain
    HTTP, so it is carried by hand here, as nginx would carry it over HTTPS."""
    page = requests.get(host + "/office/login", timeout=10)
    token = CSRF.search(page.text)
    assert page.status_code == 200 and token, page.text[:500]
    login = requests.post(host + "/office/login", allow_redirects=False, timeout=10,
                          headers={"Cookie": f"{COOKIE}={page.cookies[COOKIE]}"},
                          data={"username": username, "password": password,
                                "csrf_token": token.group(1)})
    assert login.status_code == 302 and login.headers["Location"].startswith("/office"), \
        login.text[:500]
    return str(login.cookies[COOKIE])


def office_page(host: str, cookie: str | None) -> requests.Response:
    headers = {"Cookie": f"{COOKIE}={cookie}"} if cookie else {}
    return requests.get(host + "/office/", headers=headers, allow_redirects=False, timeout=10)


def user_token(cluster: Cluster, username: str, role: str) -> str:
    """A new office user and its API token (printed once)."""
    cluster.cli("create-user", username, "--role", role)
    printed = cluster.cli("user-token", username)
    found = re.search(r"Token API[^\n]*\n\s+(\S+)", printed)
    assert found, printed
    return found.group(1)


def approve_one(host: str, token: str, cluster: Cluster) -> str:
    """Approve one checked record through ``host``'s office API (its cases resolved first
    when it has any); its id."""
    auth = {"Authorization": f"Bearer {token}"}
    verified = cluster.query("SELECT id FROM enrollment WHERE state = 'verified' ORDER BY id")
    if verified:
        record_id = str(verified[0][0])
        answer = requests.post(f"{host}/api/v1/office/records/{record_id}/decide", headers=auth,
                               json={"action": "approve"}, timeout=30)
        assert answer.status_code == 200, answer.text
        return record_id
    case_id, version, record_id = cluster.query(
        "SELECT c.id, c.version, r.enrollment_id FROM \"case\" c JOIN case_record r "
        "ON r.case_id = c.id WHERE c.state = 'open' ORDER BY c.id LIMIT 1")[0]
    answer = requests.post(f"{host}/api/v1/office/cases/{case_id}/resolve", headers=auth,
                           json={"action": "approve", "version": version,
                                 "reason": "diperiksa di kantor"}, timeout=30)
    assert answer.status_code == 200, answer.text
    return str(record_id)


def laptops(site: Site, folder: Path, count: int, records: int,
            seed: int) -> tuple[list[FieldCLI], dict[str, int]]:
    """``count`` laptops registered through the link (at once), ``records`` recorded offline
    among them; the laptops and every file they hold ({sha256: size})."""
    server = site.cluster.servers[0]
    if OPERATOR not in server.operators:  # one operator for every laptop, made once
        server.operators[OPERATOR] = add_operator(server, OPERATOR, "TIM-1", "Operator E2E")

    def laptop(n: int) -> tuple[FieldCLI, dict[str, int]]:
        field = FieldCLI(folder / f"laptop-{n}" / "home")
        register(field, server, site.url, operator=OPERATOR)
        share = records // count + (n < records % count)
        batch, files = write_recordings(folder / f"laptop-{n}" / "capture", share, seed=seed + n)
        imported = field.run("import", str(batch))
        assert imported.returncode == 0, imported.stdout + imported.stderr
        return field, files

    with ThreadPoolExecutor(count) as pool:
        made = list(pool.map(laptop, range(count)))
    expected: dict[str, int] = {}
    for _, files in made:
        expected |= files
    return [field for field, _ in made], expected


def test_laptops_sync_through_nginx_while_an_app_server_is_killed(
    site: Site, tmp_path: Path
) -> None:
    cluster, proxy = site.cluster, site.proxy
    first, second = cluster.servers
    fields, expected = laptops(site, tmp_path, LAPTOPS, RECORDS, seed=2026)

    proxy.fault_for = cut_first(CUTS)
    killer = KillOnArrival(cluster, first, len(expected) // 4, SYNC_SECONDS)
    killer.start()
    with ThreadPoolExecutor(len(fields)) as pool:
        runs = list(pool.map(lambda field: sync_until_done(field, SYNC_SECONDS), fields))
    killer.join(timeout=30)
    proxy.fault_for = lambda _: PASS
    assert killer.error is None, repr(killer.error)
    assert killer.killed_at is not None and killer.killed_at < len(expected), \
        "the app server was not killed while files were arriving"
    assert killer.restarted and first.proc is not None and first.proc.poll() is None
    assert proxy.stats.cuts >= 2, proxy.stats
    assert sum(len(codes) for codes in runs) > len(fields)  # the faults made some runs fail

    # Every record stored exactly once, every file once, in the bucket, with its bytes.
    assert cluster.query("SELECT count(*), count(DISTINCT id) FROM enrollment")[0] == (
        RECORDS, RECORDS)
    blobs = dict(cluster.query("SELECT sha256, size FROM blob"))
    assert blobs == expected
    stored = objects(cluster)
    assert set(stored) == {cluster.blob_key(sha) for sha in expected}
    for sha, size in expected.items():
        data = stored[cluster.blob_key(sha)]
        assert len(data) == size and hashlib.sha256(data).hexdigest() == sha

    # The worker checked every record: none waits, no job is left or failed.
    states, jobs = settled(cluster)
    assert set(states) <= CHECKED and sum(states.values()) == RECORDS, states
    assert set(jobs) == {"done"}, jobs

    # No request waited as long as a lock may be waited for; both hosts answered.
    entries = cluster.nginx.entries()
    slowest = max(entries, key=lambda entry: entry.request_time)
    assert slowest.request_time < LOCK_TIMEOUT, slowest
    answered = {entry.upstream_addr for entry in entries if entry.status < 500}
    assert {f"127.0.0.1:{s.port}" for s in (first, second)} <= answered

    # An office login made on one host holds on the other.
    assert office_page(second.url, None).status_code == 302  # no session: to the login page
    cookie = office_login(first.url, "admin", cluster.admin_password)
    assert office_page(second.url, cookie).status_code == 200

    # A Suket issued on one host verifies on the other.
    token = user_token(cluster, "sari", "supervisor")
    record_id = approve_one(first.url, token, cluster)
    issued = requests.post(first.url + "/api/v1/office/suket", timeout=30,
                           headers={"Authorization": f"Bearer {token}"},
                           json={"record_id": record_id})
    assert issued.status_code == 201, issued.text
    verify_path = "/verify/" + issued.json()["suket"]["verify_url"].rsplit("/verify/", 1)[1]
    checked = requests.get(second.url + verify_path, timeout=10,
                           headers={"Accept": "application/json"})
    assert checked.status_code == 200, checked.text
    assert checked.json()["status"] == "valid"
    assert checked.json()["number"] == issued.json()["suket"]["number"]


def case_snapshot(cluster: Cluster) -> tuple[list[tuple[Any, ...]], ...]:
    """The cases (kind, key, state), the records they name, and every record's state."""
    return (
        cluster.query("SELECT kind, key, state FROM \"case\" ORDER BY key"),
        cluster.query("SELECT c.key, r.enrollment_id, r.position FROM case_record r "
                      "JOIN \"case\" c ON c.id = r.case_id ORDER BY c.key, r.position"),
        cluster.query("SELECT id, state FROM enrollment ORDER BY id"),
    )


def wait_for_blocked_job(cluster: Cluster, after_id: int, seconds: float = 30.0) -> int:
    """The id of a check job (newer than ``after_id``) that is running and waiting for the
    checks' lock."""
    deadline = time.monotonic() + seconds
    while True:
        running = cluster.query(
            "SELECT id FROM job WHERE kind = 'check_records' AND state = 'running' AND id > %s",
            (after_id,))
        waiting = cluster.query(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
            "AND objid = %s", (CHECKS_LOCK,))[0][0]
        if len(running) == 1 and waiting:
            return int(running[0][0])
        assert time.monotonic() < deadline, f"no check job blocked in {seconds} s: {running}"
        time.sleep(0.1)


def test_a_worker_killed_mid_job_leaves_the_job_to_the_next(site: Site, tmp_path: Path) -> None:
    cluster = site.cluster
    site.proxy.fault_for = lambda _: PASS
    last_job = int(cluster.query("SELECT coalesce(max(id), 0) FROM job")[0][0])
    earlier = {row[0] for row in cluster.query("SELECT id FROM enrollment")}
    (field,), _ = laptops(site, tmp_path, 1, 2, seed=77)

    with cluster.connect() as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (CHECKS_LOCK,))
        # The app servers only enqueue: the laptop's sync never waits for the checks' lock.
        synced = field.run("sync", timeout=60)
        assert synced.returncode == 0, synced.stdout + synced.stderr
        job_id = wait_for_blocked_job(cluster, last_job)
        cluster.worker.kill9()
        holder.execute("SELECT pg_advisory_unlock(%s)", (CHECKS_LOCK,))
    cluster.worker.start()

    _, jobs = settled(cluster)
    assert set(jobs) == {"done"}, jobs
    new = {i: state for i, state in cluster.query("SELECT id, state FROM enrollment")
           if i not in earlier}
    assert len(new) == 2 and set(new.values()) <= CHECKED, new
    state, attempts = cluster.query("SELECT state, attempts FROM job WHERE id = %s",
                                    (job_id,))[0]
    assert (state, attempts) == ("done", 2)
    # The retried job left exactly what one full run of the checks leaves.
    after_job = case_snapshot(cluster)
    cluster.cli("run-checks")
    assert case_snapshot(cluster) == after_job
    assert cluster.worker.stop() == 0  # SIGTERM: the worker stops gracefully
    cluster.worker.start()
