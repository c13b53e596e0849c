"""Sync over a slow, flaky link: the real ``jemput-field`` through a shared 64 KiB/s link.

A real server (gunicorn, SQLite) and a field laptop with ``--records`` residents, each with 14
realistic files of random bytes (they do not compress): a photo of about 60 KB, ten fingers of
15-25 KB, two irises of about 30 KB and a signature of about 10 KB. The laptop's ``jemput-field
watch`` (or a loop of ``jemput-field sync``, ``--client sync``) sends them through the fault
proxy (``tests/support/faultproxy.py``) acting as one link: a token bucket of ``--kib-per-s``
per direction shared by every connection, and, on the flaky link, every open connection reset
every ``--cut-every`` seconds. The run ends when the server holds every record and every file.

Figures, per run, with ``bytes`` = bytes carried by the proxy in both directions (requests,
answers, every header, everything sent again after a cut) and ``rate`` = the link's bytes/s:

* ``link use`` = (bytes / rate) / wall time: how much of the time the link was busy ("wall time
  vs bytes/bandwidth"); what is missing is the link standing idle (round trips, server work,
  reconnecting, waiting before a retry, and the client's own start-up: the wall time runs from
  the start of the ``jemput-field`` process). ``link use after start-up`` leaves out the time
  until its first byte reached the link.
* ``vs floor`` = bytes / floor, with ``floor`` = the plaintext file sizes plus the gzipped
  plaintext JSON of the records (payloads and their file entries): what any protocol must
  carry. Sealing, headers, base64, answers and bytes sent again all count against it.

Not a test: nothing here asserts a timing. Prints min / median / max over ``--runs``.

    .venv/bin/python -m bench.slowlink [--records 20] [--runs 3] [--cut-every 15]
        [--kib-per-s 64] [--client watch|sync] [--links both|steady|flaky]
        [--server-tree DIR] [--client-tree DIR]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import platform
import random
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if not __package__:  # run as a script (bench/X.py): make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from server.demo.residents import synthetic_residents
from shared.vocab import FINGER_ROLES
from tests.support.faultproxy import FaultProxy, Link
from tests.support.processes import BIN, EX_TEMPFAIL, TEST_ENV, FieldCLI, ServerProcess, register

#: role -> (suffix, smallest size, largest size) in bytes.
FILES = {
    "photo": ("jpg", 57_000, 63_000),
    "signature": ("png", 9_000, 11_000),
    "iris_left": ("jp2", 28_000, 32_000),
    "iris_right": ("jp2", 28_000, 32_000),
    **{role: ("wsq", 15_000, 25_000) for role in FINGER_ROLES},
}
#: A run that takes longer than this many times its bytes at the link's rate is given up.
PATIENCE = 4.0
#: Bytes up after a cut that mean a file is moving again (more than a few requests' headers).
RESUMED = 4 * 1024
POLL = 0.1


@dataclass
class Laptop:
    """A batch to import and what it must put on the server."""

    batch: Path
    files: int
    file_bytes: int
    json_gzip: int

    @property
    def floor(self) -> int:
        return self.file_bytes + self.json_gzip


@dataclass
class Run:
    """One measured sync."""

    wall: float
    up: int
    down: int
    cuts: int
    floor: int
    rate: float
    resume: float | None = None  # median seconds from a cut until file bytes flowed again
    startup: float = 0.0  # seconds from the client's start to its first byte on the link

    @property
    def carried(self) -> int:
        return self.up + self.down

    @property
    def link_use(self) -> float:
        return self.carried / self.rate / self.wall

    @property
    def link_use_running(self) -> float:
        """Link use once the client's first byte went (its process start-up left out)."""
        return self.carried / self.rate / (self.wall - self.startup)

    @property
    def vs_floor(self) -> float:
        return self.carried / self.floor


def write_laptop(folder: Path, count: int, seed: int) -> Laptop:
    """A JSONL batch of ``count`` residents with their 14 files each, and its floor."""
    rng = random.Random(seed)
    lines, plain, file_bytes, files = [], [], 0, 0
    for index, payload in enumerate(synthetic_residents(count, seed=seed)):
        paths, entries = {}, {}
        for role, (suffix, low, high) in FILES.items():
            data = rng.randbytes(rng.randint(low, high))
            path = folder / f"r{index:03d}" / f"{role}.{suffix}"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            paths[role] = str(path.relative_to(folder))
            entries[role] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data),
                             "media_type": suffix}
            file_bytes += len(data)
            files += 1
        lines.append(json.dumps({"operator": "op.e2e", "payload": payload, "files": paths}))
        plain.append({"payload": payload, "files": entries})
    batch = folder / "batch.jsonl"
    batch.write_text("\n".join(lines) + "\n", encoding="utf-8")
    json_gzip = len(gzip.compress(json.dumps({"records": plain}).encode(), compresslevel=6))
    return Laptop(batch, files, file_bytes, json_gzip)


def server_holds(server: ServerProcess, records: int, files: int) -> bool:
    """Whether the server holds every record and every file (read-only, while it runs)."""
    try:
        with sqlite3.connect(f"file:{server.instance / 'jemput.db'}?mode=ro", uri=True) as conn:
            held = conn.execute("SELECT count(*) FROM enrollment").fetchone()[0]
            blobs = conn.execute("SELECT count(*) FROM blob").fetchone()[0]
    except sqlite3.Error:
        return False
    return bool(held >= records and blobs >= files)


class Cutter:
    """Reset every open connection of ``proxy`` every ``every`` seconds (None: never)."""

    def __init__(self, proxy: FaultProxy, every: float | None) -> None:
        self.proxy, self.every = proxy, every
        self.cuts = 0
        self.resumes: list[float] = []  # seconds from each cut until file bytes flowed again
        self.startup = 0.0  # seconds from the client's start to its first byte on the link
        self._started = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> Cutter:
        self._started = time.monotonic()
        threading.Thread(target=self._watch_first_byte, daemon=True).start()
        if self.every:
            self._thread.start()
        return self

    def _watch_first_byte(self) -> None:
        """Note when the client's first request reached the link (its process start-up, the
        outbox opened and the push prepared, are behind it)."""
        base = self.proxy.stats.bytes_up
        while not self._stop.is_set():
            if self.proxy.stats.bytes_up > base:
                self.startup = time.monotonic() - self._started
                return
            time.sleep(0.01)

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _loop(self) -> None:
        assert self.every
        while not self._stop.wait(self.every):
            self.proxy.cut_all()
            self.cuts += 1
            self._time_resume()

    def _time_resume(self) -> None:
        """Note how long after the cut the client's bytes flow again (past a few requests'
        headers: a probe, a HEAD and a creation are not the file itself moving)."""
        cut_at, base = time.monotonic(), self.proxy.stats.bytes_up
        while not self._stop.is_set() and time.monotonic() - cut_at < self.every:
            if self.proxy.stats.bytes_up - base > RESUMED:
                self.resumes.append(time.monotonic() - cut_at)
                return
            time.sleep(0.01)


def field_env() -> dict[str, str]:
    return dict(os.environ, PYTHONUNBUFFERED="1", **TEST_ENV)


def sync_until_done(field: FieldCLI, done: Any, deadline: float) -> None:
    """``jemput-field sync`` again and again, at once after each failure, until ``done()``."""
    while not done():
        assert time.monotonic() < deadline, "the sync did not finish in time"
        ran = subprocess.run([str(BIN / "jemput-field"), "--home", str(field.home), "sync"],
                             capture_output=True, text=True, env=field_env(), check=False,
                             timeout=max(deadline - time.monotonic(), 1))
        if ran.returncode not in (0, EX_TEMPFAIL):
            raise AssertionError(ran.stdout + ran.stderr)


def watch_until_done(field: FieldCLI, done: Any, deadline: float, log: Path,
                     verbose: list[str]) -> None:
    """``jemput-field watch`` until ``done()``; then SIGTERM it."""
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [str(BIN / "jemput-field"), "--home", str(field.home), *verbose, "watch"],
            stdout=out, stderr=subprocess.STDOUT, env=field_env(), start_new_session=True,
        )
        try:
            while not done():
                assert proc.poll() is None, log.read_text()
                assert time.monotonic() < deadline, "watch did not finish in time"
                time.sleep(POLL)
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def one_run(scratch: Path, args: argparse.Namespace, cut_every: float | None,
            seed: int) -> Run:
    rate = args.kib_per_s * 1024
    laptop = write_laptop(scratch / "capture", args.records, seed)
    extra = {"PYTHONPATH": str(args.server_tree)} if args.server_tree else {}
    server = ServerProcess.initialised(scratch / "instance", log_level="warning",
                                       extra_env=extra)
    field = FieldCLI(scratch / "field-home")
    try:
        with FaultProxy(("127.0.0.1", server.port)) as proxy:
            register(field, server, proxy.url)
            imported = field.run("import", str(laptop.batch), timeout=600)
            assert imported.returncode == 0, imported.stdout + imported.stderr
            proxy.link = Link.symmetric(rate)
            up0, down0 = proxy.stats.bytes_up, proxy.stats.bytes_down
            deadline = time.monotonic() + 60 + PATIENCE * laptop.floor / rate
            done = lambda: server_holds(server, args.records, laptop.files)  # noqa: E731
            start = time.monotonic()
            with Cutter(proxy, cut_every) as cutter:
                if args.client == "sync":
                    sync_until_done(field, done, deadline)
                else:
                    watch_until_done(field, done, deadline, scratch / "watch.log",
                                     ["-v"] if args.verbose else [])
                wall = time.monotonic() - start
                up, down = proxy.stats.bytes_up - up0, proxy.stats.bytes_down - down0
            resume = statistics.median(cutter.resumes) if cutter.resumes else None
            return Run(wall, up, down, cutter.cuts, laptop.floor, rate, resume, cutter.startup)
    finally:
        server.stop()


def spread(values: list[float], fmt: str) -> str:
    """``min / median / max``."""
    low, mid, high = min(values), statistics.median(values), max(values)
    return f"{low:{fmt}} / {mid:{fmt}} / {high:{fmt}}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--cut-every", type=float, default=15.0)
    parser.add_argument("--kib-per-s", type=float, default=64.0)
    parser.add_argument("--client", choices=("watch", "sync"), default="watch")
    parser.add_argument("--links", choices=("both", "steady", "flaky"), default="both")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folders")
    parser.add_argument("--verbose", action="store_true",
                        help="`watch -v`: its log (every request) in the kept watch.log")
    parser.add_argument(
        "--server-tree", type=Path, default=None,
        help="run the server from this copy of the code (its server/ and shared/), e.g. "
        "`git archive HEAD server shared | tar -x -C DIR`, while other work changes the tree")
    parser.add_argument(
        "--client-tree", type=Path, default=None,
        help="run `jemput-field` from this copy of the code (its field_client/ and shared/), "
        "to measure an older client against the same bench")
    args = parser.parse_args()
    if args.client_tree:  # every jemput-field the bench starts imports from there first
        os.environ["PYTHONPATH"] = str(args.client_tree.resolve())
    if args.server_tree:  # gunicorn puts its working folder first on sys.path
        args.server_tree = args.server_tree.resolve()
        os.chdir(args.server_tree)
    links: list[tuple[str, float | None]] = []
    if args.links in ("both", "steady"):
        links.append(("no cuts", None))
    if args.links in ("both", "flaky"):
        links.append((f"cut every {args.cut_every:g} s", args.cut_every))

    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}; {args.records} records x 14 files, link "
          f"{args.kib_per_s:g} KiB/s each way, client `jemput-field {args.client}`, "
          f"{args.runs} runs (min / median / max)")
    results: dict[str, list[Run]] = {}
    for name, cut_every in links:
        for run_no in range(args.runs):
            scratch = Path(tempfile.mkdtemp(prefix="jemput-slowlink-"))
            try:
                run = one_run(scratch, args, cut_every, seed=run_no + 1)
            except AssertionError as exc:  # e.g. a client that never got everything up
                print(f"  {name}, run {run_no + 1}: gave up: {exc}", flush=True)
                continue
            finally:
                if not args.keep:
                    subprocess.run(["rm", "-rf", str(scratch)], check=False)
            results.setdefault(name, []).append(run)
            print(f"  {name}, run {run_no + 1}: {run.wall:.1f} s, up {run.up:,} B, down "
                  f"{run.down:,} B, floor {run.floor:,} B, cuts {run.cuts}, link use "
                  f"{run.link_use:.1%} ({run.link_use_running:.1%} after a start-up of "
                  f"{run.startup:.1f} s), vs floor {run.vs_floor:.3f}x"
                  + (f", back {run.resume:.2f} s after a cut" if run.resume else ""), flush=True)
    print()
    print("| link | wall s | bytes up+down | floor bytes | link use | link use after start-up "
          "| vs floor | back after a cut, s | wall lost per cut, s |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    steady = results.get("no cuts")
    for name, runs in results.items():
        lost, back = "-", "-"
        if steady and name != "no cuts" and any(r.cuts for r in runs):
            base = statistics.median(r.wall for r in steady)
            lost = spread([(r.wall - base) / max(r.cuts, 1) for r in runs], ".2f")
            back = spread([r.resume or 0.0 for r in runs], ".2f")
        print(f"| {name} | {spread([r.wall for r in runs], '.1f')} | "
              f"{spread([r.carried for r in runs], ',.0f')} | "
              f"{spread([r.floor for r in runs], ',.0f')} | "
              f"{spread([r.link_use * 100 for r in runs], '.1f')} % | "
              f"{spread([r.link_use_running * 100 for r in runs], '.1f')} % | "
              f"{spread([r.vs_floor for r in runs], '.3f')}x | {back} | {lost} |")


if __name__ == "__main__":
    main()
