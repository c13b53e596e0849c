"""Several app servers behind nginx on one machine, sharing one PostgreSQL and one S3 bucket, with
a job worker beside them: the production layout of docs/deploy.md, for the tests and benchmarks.

:func:`scratch_database` makes a PostgreSQL database of its own (a unique name on the server of
``JEMPUT_TEST_DATABASE_URL``) and drops it afterwards. :func:`launch` runs ``jemput-server init``
once (the schema, the regions, the admin and the office key ring every host reads), then N
gunicorn app servers, each with its own instance folder and all with the same shared
configuration (database, secret key, key ring, bucket), nginx in front (round robin over them,
the deployed site) and ``jemput-server worker`` (:class:`Worker`), which runs the jobs the app
servers only enqueue. The S3 service is SeaweedFS (tests/support/seaweed.py): the suite's
session fixture in the tests, ``seaweed_server`` for a benchmark run outside pytest. Every
wait has a deadline; every process is stopped by its own process group.
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import subprocess
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

from tests.support.nginx import Nginx
from tests.support.processes import BIN, TEST_ENV, ServerProcess, free_port
from tests.support.seaweed import (
    CREDENTIALS,
    SeaweedS3,
    s3_config,
)

#: Every host's secret key (sessions made on one are valid on the others).
SECRET_KEY = "jemput-cluster-secret-key-shared-by-every-host"
#: The job queue's settings: app servers only enqueue, a dead worker's job is retried after 3 s;
#: nginx (on this host) is the one proxy whose forwarded headers are believed.
JOB_ENV = {"JEMPUT_JOBS": "worker", "JEMPUT_JOB_LEASE_SECONDS": "3",
           "JEMPUT_TRUSTED_PROXIES": "127.0.0.1"}
#: ``jemput-server init`` prints the admin's password on the line after this one.
ADMIN_PASSWORD = re.compile(r"Kata sandi[^\n]*\n\s*(\S+)")
WORKER_STOP_TIMEOUT = 20.0


def plain_url(url: str) -> str:
    """A PostgreSQL URL as psycopg takes it (no ``+driver``)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@contextmanager
def scratch_database(server_url: str, stem: str = "jemput_cluster") -> Iterator[str]:
    """A new, empty database on the PostgreSQL server of ``server_url``; dropped at the end
    (connections still open to it are ended)."""
    base = make_url(plain_url(server_url))
    name = f"{stem}_{secrets.token_hex(4)}"
    admin = base.set(database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
                         .format(sql.Identifier(name)))


def shared_env(root: Path, database_url: str, s3: SeaweedS3, prefix: str) -> dict[str, str]:
    """The configuration every host of the cluster has in common (docs/deploy.md's
    ``/etc/jemput/jemput.env``), with the suite's cheap PIN key derivation."""
    return {
        "JEMPUT_DATABASE_URL": database_url,
        "JEMPUT_SECRET_KEY": SECRET_KEY,
        "JEMPUT_KEYRING": str(root / "keyring.json"),
        **s3_config(s3, prefix),
        **CREDENTIALS,
        **JOB_ENV,
        **TEST_ENV,
    }


@dataclass
class Worker:
    """``jemput-server worker --processes N`` as its own process group: runs until SIGTERM,
    then stops gracefully; :meth:`kill9` ends it with no chance to clean up."""

    env: dict[str, str]
    log: Path
    processes: int = 1
    proc: subprocess.Popen[bytes] | None = None
    #: Exit statuses of the runs stopped with :meth:`stop`, in order.
    exits: list[int] = field(default_factory=list)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> None:
        """Start the worker; fail at once (showing its log) if it ends within half a second."""
        assert not self.running, "the worker runs already"
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [str(BIN / "jemput-server"), "worker", "--processes", str(self.processes)],
                env=dict(os.environ, **self.env), stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)
        time.sleep(0.5)
        if self.proc.poll() is not None:
            raise AssertionError(f"the worker stopped at start:\n{self.log.read_text()}")

    def kill9(self) -> None:
        """SIGKILL the worker's whole process group (its job processes too)."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)
        self.proc = None

    def stop(self, timeout: float = WORKER_STOP_TIMEOUT) -> int | None:
        """SIGTERM the group (as systemd does) and wait; SIGKILL after ``timeout``. Its exit
        status (None when it had to be killed or was not running)."""
        if self.proc is None:
            return None
        proc, self.proc = self.proc, None
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            status = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return None
        self.exits.append(status)
        return status

    def restart(self) -> None:
        """Stop (if it runs) and start again."""
        self.stop()
        self.start()


@dataclass
class Cluster:
    """N app servers, nginx in front, a worker, over one database and one bucket prefix."""

    root: Path
    database_url: str
    s3: SeaweedS3
    prefix: str
    env: dict[str, str]
    servers: list[ServerProcess]
    nginx: Nginx
    worker: Worker
    admin_password: str
    #: gunicorn's workers and threads per app server (a restarted one gets the same).
    workers: int = 1
    threads: int = 4

    @property
    def url(self) -> str:
        """nginx's https URL."""
        return self.nginx.url

    def cli(self, *args: str) -> str:
        """``jemput-server ARGS`` with the cluster's configuration (any host would do)."""
        return self.servers[0].cli(*args)

    def start_server(self, server: ServerProcess) -> None:
        """Start one app server (again, after a kill) as :func:`launch` started it."""
        server.start(workers=self.workers, threads=self.threads, log_level="warning")

    def connect(self) -> psycopg.Connection[Any]:
        """A new autocommit connection to the cluster's database (the caller closes it)."""
        return psycopg.connect(plain_url(self.database_url), autocommit=True)

    def query(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows of one statement on a fresh connection."""
        with self.connect() as conn:
            return list(conn.execute(statement, params).fetchall())

    def blob_key(self, sha256: str) -> str:
        """The object key of blob ``sha256`` (the S3 store's layout)."""
        return f"{self.prefix}/sha256/{sha256[:2]}/{sha256[2:4]}/{sha256}"

    def stop(self) -> None:
        """Stop the worker, nginx and the app servers (each by its own process group)."""
        self.worker.stop()
        self.nginx.stop()
        for server in self.servers:
            server.stop()


def launch(root: Path, database_url: str, s3: SeaweedS3, prefix: str, *, servers: int = 2,
           workers: int = 1, threads: int = 4, nginx_host: str = "127.0.0.1",
           nginx_port: int | None = None, nginx_workers: int = 1, start_worker: bool = True,
           extra_env: dict[str, str] | None = None) -> Cluster:
    """Initialise the database once, then start ``servers`` app servers (gunicorn
    ``workers`` x ``threads`` each), nginx on ``nginx_host:nginx_port`` and (unless
    ``start_worker`` is false) the job worker. The caller stops it (:meth:`Cluster.stop`)."""
    root.mkdir(parents=True, exist_ok=True)
    env = shared_env(root, database_url, s3, prefix) | (extra_env or {})
    hosts = [ServerProcess(root / f"host-{n}", database_url=database_url, extra_env=env)
             for n in range(1, servers + 1)]
    for host in hosts:
        host.instance.mkdir(parents=True, exist_ok=True)
    printed = hosts[0].cli("init")
    found = ADMIN_PASSWORD.search(printed)
    assert found, printed
    nginx = Nginx(root / "nginx", [f"127.0.0.1:{host.port}" for host in hosts],
                  host=nginx_host, port=nginx_port or free_port(), workers=nginx_workers)
    worker = Worker(dict(env, JEMPUT_INSTANCE_PATH=str(root / "worker")), root / "worker.log")
    cluster = Cluster(root, database_url, s3, prefix, env, hosts, nginx, worker, found.group(1),
                      workers, threads)
    try:
        with ThreadPoolExecutor(len(hosts)) as pool:  # each waits for its /healthz
            for started in [pool.submit(cluster.start_server, host) for host in hosts]:
                started.result()
        nginx.start()
        if start_worker:
            worker.start()
    except BaseException:
        cluster.stop()
        raise
    return cluster


@contextmanager
def running_cluster(root: Path, server_url: str, s3: SeaweedS3, prefix: str,
                    **options: Any) -> Iterator[Cluster]:
    """:func:`launch` on a scratch database of ``server_url``; everything stopped and the
    database dropped at the end."""
    with scratch_database(server_url) as database_url:
        cluster = launch(root, database_url, s3, prefix, **options)
        try:
            yield cluster
        finally:
            cluster.stop()
