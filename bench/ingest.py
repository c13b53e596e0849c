"""Ingest benchmark: push sealed enrollment records to a real server (gunicorn) on loopback.

Measures, on SQLite and (with ``--postgresql URL``) on PostgreSQL, each run on a fresh server
and database: (1) batched first pushes from two devices at once and from one device, (2) the
same batches again (a replay: every record a duplicate), (3) the naive way, one record per
request; in wall-clock records/s, and in records per CPU-second of the server (its gunicorn
processes) and the database's PostgreSQL backends; and request bytes per record with and
without gzip. Records travel as protocol 2 pushes them: sealed to the server's office key
(``bench.sealing`` times the push in process and the opening apart). Prints a table of min /
median / max over ``--repeat`` runs. Not a test: nothing here asserts a timing.

    .venv/bin/python -m bench.ingest [--records 10000] [--batch 500] [--single 1000]
        [--repeat 3] [--postgresql URL]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psycopg
import requests
import uuid6

if not __package__:  # run as a script (bench/X.py): make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.timing import process_cpu as pid_cpu
from server.demo.residents import synthetic_residents
from shared import vocab
from shared.canonical import with_hash
from shared.protocol import PROTOCOL_HEADER, PROTOCOL_VERSION
from shared.sealing import b64, seal_record, unb64
from tests.support.processes import ServerProcess

PROTOCOL = {PROTOCOL_HEADER: str(PROTOCOL_VERSION)}
TICK = os.sysconf("SC_CLK_TCK")


def make_records(count: int, first_seq: int, seed: int) -> list[dict[str, Any]]:
    """Records with their hash and a realistic attachment list (photo, signature, irises, 10
    fingers)."""
    records = []
    for offset, payload in enumerate(synthetic_residents(count, seed=seed)):
        attachments = [
            {
                "role": role,
                "sha256": hashlib.sha256(f"{seed}:{offset}:{role}".encode()).hexdigest(),
                "size": 16_000 + index,
                "media_type": "image/jpeg" if role in ("photo", "signature") else "image/x-wsq",
            }
            for index, role in enumerate(vocab.BIOMETRIC_ROLES)
        ]
        record = {
            "id": str(uuid6.uuid7()),
            "seq": first_seq + offset,
            "type": "enrollment",
            "captured_at": "2026-11-27T03:12:45Z",
            "operator": "op.bench",
            "payload": payload,
            "attachments": attachments,
            "exceptions": [],
        }
        records.append(with_hash(record))
    return records


def sealed(records: list[dict[str, Any]], office_key: dict[str, str]) -> list[dict[str, Any]]:
    """The push items of protocol 2: each record sealed to the office key, as saved."""
    public = unb64(office_key["public"])
    return [{"id": r["id"], "seq": r["seq"], "key_id": office_key["kid"],
             "sealed": b64(seal_record(public, r))} for r in records]


def register(server: ServerProcess, session: requests.Session) -> tuple[str, dict[str, str]]:
    """A new device over HTTP: its token and the office key it seals to."""
    answer = session.post(server.url + "/api/v1/devices", headers=PROTOCOL, timeout=30,
                          json={"code": server.device_code("BENCH"), "name": "bench"})
    answer.raise_for_status()
    return str(answer.json()["token"]), answer.json()["office_key"]


def encode_batches(records: list[dict[str, Any]], batch: int, use_gzip: bool) -> list[bytes]:
    """Request bodies as a device prepares them before it sends (not part of the timing)."""
    bodies = []
    for index in range(0, len(records), batch):
        body = json.dumps({"records": records[index:index + batch]}).encode()
        bodies.append(gzip.compress(body, compresslevel=5) if use_gzip else body)
    return bodies


def send(url: str, token: str, bodies: list[bytes], use_gzip: bool) -> dict[str, int]:
    """One device sending its bodies one after the other; return the per-record statuses."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json",
               **PROTOCOL}
    if use_gzip:
        headers["Content-Encoding"] = "gzip"
    statuses: dict[str, int] = {}
    with requests.Session() as session:
        for body in bodies:
            answer = session.post(url + "/api/v1/sync/push", data=body, headers=headers,
                                  timeout=300)
            answer.raise_for_status()
            for result in answer.json()["results"]:
                statuses[result["status"]] = statuses.get(result["status"], 0) + 1
    return statuses


def run(
    url: str, devices: list[tuple[str, list[bytes]]], use_gzip: bool
) -> tuple[float, dict[str, int]]:
    """Devices send at the same time (one thread each); return seconds and summed statuses."""
    totals: dict[str, int] = {}
    start = time.perf_counter()
    with ThreadPoolExecutor(len(devices)) as pool:
        futures = [pool.submit(send, url, token, bodies, use_gzip) for token, bodies in devices]
        for future in futures:
            for status, count in future.result().items():
                totals[status] = totals.get(status, 0) + count
    return time.perf_counter() - start, totals


def process_cpu(group: int) -> dict[int, float]:
    """CPU seconds of every process in process group ``group`` (the server's), by pid."""
    spent = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == group:  # pgrp
            spent[int(entry.name)] = (int(fields[11]) + int(fields[12])) / TICK
    return spent


def backend_cpu(url: str | None) -> dict[int, float]:
    """CPU seconds of the PostgreSQL backends connected to ``url``'s database, by pid."""
    if not url:
        return {}
    with psycopg.connect(url) as connection:
        pids = [row[0] for row in connection.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()")]
    spent = {}
    for pid in pids:
        if cpu := pid_cpu(pid):  # 0: gone meanwhile, left out as before
            spent[pid] = cpu
    return spent


def cpu_of(server: ServerProcess, url: str | None) -> dict[str, float]:
    assert server.proc is not None
    return {**{f"p{pid}": cpu for pid, cpu in process_cpu(server.proc.pid).items()},
            **{f"b{pid}": cpu for pid, cpu in backend_cpu(url).items()}}


def spent(before: dict[str, float], after: dict[str, float]) -> float:
    return sum(cpu - before.get(key, 0.0) for key, cpu in after.items())


def fresh_schema(url: str) -> None:
    """An empty ``public`` schema on the scratch database ``url`` (``init`` migrates it)."""
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("DROP SCHEMA public CASCADE")
        connection.execute("CREATE SCHEMA public")


Row = tuple[str, int, float, float, int, dict[str, int]]


def one_run(folder: Path, url: str | None, args: argparse.Namespace, seed: int) -> list[Row]:
    """Every scenario once on a fresh server and database: (name, records, wall seconds,
    server + database CPU seconds, request bytes, statuses)."""
    half = args.records // 2
    sets = [make_records(half, 1, seed=seed), make_records(args.records - half, 1, seed=seed + 1),
            make_records(args.records, 1, seed=seed + 2)]
    singles = make_records(args.single, 1, seed=seed + 3)
    if url:
        fresh_schema(url)
    rows: list[Row] = []
    server = ServerProcess.initialised(folder, workers=args.workers, threads=1,
                                       log_level="warning", database_url=url)
    try:
        with requests.Session() as session:
            devices = [register(server, session) for _ in range(4)]
        tokens = [token for token, _ in devices]
        office_key = devices[0][1]
        sealed_sets = [sealed(records, office_key) for records in sets]
        batched = [encode_batches(records, args.batch, True) for records in sealed_sets]
        one_by_one = encode_batches(sealed(singles, office_key), 1, False)
        two = [(tokens[0], batched[0]), (tokens[1], batched[1])]
        one = [(tokens[2], batched[2])]
        scenarios = [("1 device, first push", one, args.records, True),
                     ("1 device, replay", one, args.records, True),
                     ("2 devices, first push", two, args.records, True),
                     ("2 devices, replay", two, args.records, True)]
        if args.single:
            scenarios.append(("1 device, one record/request", [(tokens[3], one_by_one)],
                              args.single, False))
        for name, pushing, count, use_gzip in scenarios:
            before = cpu_of(server, url)
            secs, statuses = run(server.url, pushing, use_gzip)
            time.sleep(0.5)  # jobs queued by the push (a thread on SQLite) run before counting
            cpu = spent(before, cpu_of(server, url))
            sent = sum(len(body) for _, bodies in pushing for body in bodies)
            rows.append((name + (" (gzip)" if use_gzip else ""), count, secs, cpu, sent,
                         statuses))
    finally:
        server.stop()
    return rows


def spread(values: list[float]) -> str:
    return " / ".join(f"{v:,.0f}" for v in (min(values), statistics.median(values),
                                             max(values)))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--single", type=int, default=1_000,
                        help="records sent one per request (the naive way); 0: none")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--postgresql", help="also run on this scratch database (its public "
                                             "schema is dropped and made again)")
    args = parser.parse_args()

    databases: list[tuple[str, str | None]] = [("SQLite", None)]
    if args.postgresql:
        databases.append(("PostgreSQL", args.postgresql))
    runs: dict[str, list[list[Row]]] = {name: [] for name, _ in databases}
    with tempfile.TemporaryDirectory() as scratch:
        for index in range(args.repeat):  # the databases interleaved, each run a fresh server
            for name, url in databases:
                folder = Path(scratch) / f"{name}-{index}"
                runs[name].append(one_run(folder, url, args, seed=10 * index + 1))
    sample = json.dumps({"records": make_records(args.batch, 1, seed=99)}).encode()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}; gunicorn -w {args.workers}; SQLite synchronous=FULL; "
          f"batch {args.batch}; records sealed and bodies encoded before timing; "
          f"{args.repeat} runs (min / median / max)")
    print("CPU: the server's processes (and, on PostgreSQL, the database's backends)")
    for name, results in runs.items():
        print(f"\n{name}")
        print(f"  {'scenario':36} {'records':>7} {'wall records/s':>24} "
              f"{'records/CPU-s':>24} {'bytes/rec':>9}  statuses (last run)")
        for position, first in enumerate(results[0]):
            rows = [result[position] for result in results]
            walls = [row[1] / row[2] for row in rows]
            cpus = [row[1] / row[3] for row in rows if row[3] > 0]
            print(f"  {first[0]:36} {first[1]:7d} {spread(walls):>24} "
                  f"{spread(cpus) if cpus else '-':>24} {first[4] / first[1]:9.0f}"
                  f"  {rows[-1][5]}")
    print(f"\nrequest bytes per record in a {args.batch}-record batch (clear records): "
          f"{len(sample) / args.batch:.0f} plain JSON, "
          f"{len(gzip.compress(sample, 5)) / args.batch:.0f} gzip")


if __name__ == "__main__":
    main()
