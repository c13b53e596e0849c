"""Upload benchmark: a 5 MB biometric file over loopback, tus in chunks against one plain PUT.

Measures (1) seconds and MB/s of a plain single PUT of the bytes to a bare WSGI app under the
same gunicorn (``bench/plain_put.py``: read, write, fsync, nothing else), (2) the same bytes as a
Jemput tus upload (creation, then PATCH chunks with a SHA-256 checksum each, the whole file
verified at the end), and (3) the tus upload through a fault-injecting proxy that cuts the
connection at random points 10 times: how many bytes had to be sent again per cut. Prints a
table. Not a test: nothing here asserts a timing.

    .venv/bin/python -m bench.uploads [--size-mb 5] [--chunk-kib 1024] [--runs 5] [--cuts 10]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import os
import platform
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import requests

if not __package__:  # run as a script (bench/X.py): make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.faultproxy import PASS, Fault, FaultProxy
from tests.support.processes import BIN, ServerProcess, free_port, wait_until_up

T = TypeVar("T")
TUS = {"Tus-Resumable": "1.0.0"}
#: Attempts per request when the link drops; a cut is followed by a reconnect and a HEAD.
MAX_ATTEMPTS = 50


class PlainPut:
    """``bench/plain_put.py`` under gunicorn with the same worker count as the Jemput server."""

    def __init__(self, workers: int, scratch: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/file"
        self.proc = subprocess.Popen(
            [str(BIN / "gunicorn"), "-b", f"127.0.0.1:{self.port}", "-w", str(workers),
             "--threads", "4", "--chdir", str(Path(__file__).parent), "--log-level", "warning",
             "plain_put:app"],
            env=dict(os.environ, PLAIN_PUT_DIR=str(scratch)), start_new_session=True,
        )
        wait_until_up(self.url, self.proc)

    def stop(self) -> None:
        os.killpg(self.proc.pid, signal.SIGTERM)
        self.proc.wait(timeout=30)


class Busy(Exception):
    """The server still finishes an earlier request on this upload (423): ask again."""


class TusUpload:
    """One file sent the way the field client sends it: create, then checksummed chunks."""

    def __init__(self, base_url: str, token: str, data: bytes, chunk: int) -> None:
        self.base_url, self.data, self.chunk = base_url, data, chunk
        self.session = requests.Session()
        self.session.headers.update(TUS | {"Authorization": f"Bearer {token}"})
        self.body_bytes = 0  # PATCH body bytes put on the wire, re-sent ones included
        self.drops = 0  # requests that failed because the link was cut

    def run(self) -> None:
        """Upload the whole file, resuming from the server's offset after every cut."""
        url, offset = self._retry(self._create)  # the creation answer carries the offset
        while offset < len(self.data):
            piece = self.data[offset:offset + self.chunk]
            try:
                offset = self._patch(url, offset, piece)
            except (requests.ConnectionError, Busy):
                self.drops += 1
                offset = self._retry(lambda: self._offset(url))

    def _create(self) -> tuple[str, int]:
        digest = hashlib.sha256(self.data).hexdigest()
        metadata = ",".join(
            f"{key} {base64.b64encode(value.encode()).decode()}"
            for key, value in (("sha256", digest), ("media_type", "image/jpeg"),
                               ("filename", "bench.jpg"))
        )
        answer = self.session.post(
            self.base_url + "/api/v1/uploads", timeout=60,
            headers={"Upload-Length": str(len(self.data)), "Upload-Metadata": metadata},
        )
        answer.raise_for_status()
        url = requests.compat.urljoin(self.base_url, answer.headers["Location"])
        return url, int(answer.headers["Upload-Offset"])

    def _offset(self, url: str) -> int:
        answer = self.session.head(url, timeout=60)
        answer.raise_for_status()
        return int(answer.headers["Upload-Offset"])

    def _patch(self, url: str, offset: int, piece: bytes) -> int:
        checksum = base64.b64encode(hashlib.sha256(piece).digest()).decode()
        self.body_bytes += len(piece)
        answer = self.session.patch(url, data=piece, timeout=60, headers={
            "Content-Type": "application/offset+octet-stream",
            "Upload-Offset": str(offset),
            "Upload-Checksum": f"sha256 {checksum}",
        })
        if answer.status_code == 423:  # the request cut a moment ago still holds the upload
            time.sleep(0.05)
            raise Busy
        answer.raise_for_status()
        return int(answer.headers["Upload-Offset"])

    def _retry(self, call: Callable[[], T]) -> T:
        for _ in range(MAX_ATTEMPTS):
            try:
                return call()
            except requests.ConnectionError:
                self.drops += 1
        raise SystemExit("the link never came back")


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def plain_put_seconds(session: requests.Session, url: str, data: bytes) -> float:
    """Seconds for one plain PUT of ``data`` (made before the clock starts)."""
    return timed(lambda: session.put(url, data=data, timeout=60).raise_for_status())


def cut_plan(proxy: FaultProxy, cuts: int, size: int, seed: int) -> Callable[[int], Fault]:
    """Cut the link at ``cuts`` random points of the upload's byte stream, then let it be.

    The points are drawn in (0, size) over all bytes sent so far, re-sent ones included, so
    every one of them falls while the upload is still running.
    """
    rng = random.Random(seed)
    marks = sorted(rng.sample(range(1, size), cuts))

    def plan(_: int) -> Fault:
        # The upload uses one connection at a time: the next mark, less what was sent already.
        sent = proxy.stats.bytes_up
        while marks and marks[0] <= sent:
            marks.pop(0)  # two marks inside one connection's life count as one cut
        return Fault(cut_upstream_after=marks.pop(0) - sent) if marks else PASS

    return plan


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--size-mb", type=float, default=5)
    parser.add_argument("--chunk-kib", type=int, default=1024)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--cuts", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    size, chunk = int(args.size_mb * 1_000_000), args.chunk_kib * 1024

    with tempfile.TemporaryDirectory() as scratch:
        server = ServerProcess.initialised(Path(scratch) / "instance", workers=args.workers,
                                           threads=4, log_level="warning")
        plain = PlainPut(args.workers, Path(scratch))
        try:
            with requests.Session() as session:
                token = server.device_token(session)
                put_secs = [plain_put_seconds(session, plain.url, os.urandom(size))
                            for _ in range(args.runs)]
            tus_secs = [timed(TusUpload(server.url, token, os.urandom(size), chunk).run)
                        for _ in range(args.runs)]
            with FaultProxy(("127.0.0.1", server.port)) as proxy:
                proxy.fault_for = cut_plan(proxy, args.cuts, size, seed=2026)
                cut = TusUpload(proxy.url, token, os.urandom(size), chunk)
                cut_secs = timed(cut.run)
                cuts = proxy.stats.cuts
        finally:
            plain.stop()
            server.stop()

    put, tus = statistics.median(put_secs), statistics.median(tus_secs)
    mb = size / 1_000_000
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}, SQLite (synchronous=FULL), gunicorn -w {args.workers}; "
          f"file {mb:g} MB, chunks of {args.chunk_kib} KiB, median of {args.runs} runs")
    print(f"{'scenario':44} {'seconds':>8} {'MB/s':>8} {'vs PUT':>7}")
    print(f"{'plain single PUT (no DB, no hash)':44} {put:8.3f} {mb / put:8.1f} {'100%':>7}")
    print(f"{'tus upload, checksummed chunks':44} {tus:8.3f} {mb / tus:8.1f} {put / tus:7.0%}")
    resent = cut.body_bytes - size
    per_cut = resent / cuts if cuts else 0.0
    print(f"{'tus upload, link cut ' + str(cuts) + ' times':44} {cut_secs:8.3f} "
          f"{mb / cut_secs:8.1f} {put / cut_secs:7.0%}")
    print(f"bytes re-sent after {cuts} cuts: {resent:,} in all, {per_cut:,.0f} per cut "
          f"(one chunk = {chunk:,}); failed requests: {cut.drops}")


if __name__ == "__main__":
    main()
