"""Ingest benchmark: push 10,000 sealed enrollment records to a real server on loopback.

Measures records/s for (1) batched first pushes from two devices at once and from one device,
(2) the same batches again (a replay: every record a duplicate), (3) the naive way, one record
per request; and request bytes per record with and without gzip. Records travel as protocol 2
pushes them: sealed to the server's office key (``bench.sealing`` compares with protocol 1 and
times the opening apart). Prints a table. Not a test: nothing here asserts a timing.

    .venv/bin/python -m bench.ingest [--records 10000] [--batch 500] [--single 1000]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import platform
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests
import uuid6

if not __package__:  # run as a script (bench/X.py): make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from server.demo.residents import synthetic_residents
from shared import vocab
from shared.canonical import with_hash
from shared.protocol import PROTOCOL_HEADER, PROTOCOL_VERSION
from shared.sealing import b64, seal_record, unb64
from tests.support.processes import ServerProcess

PROTOCOL = {PROTOCOL_HEADER: str(PROTOCOL_VERSION)}


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


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--single", type=int, default=1_000,
                        help="records sent one per request (the naive way)")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    half = args.records // 2
    sets = [make_records(half, 1, seed=1), make_records(args.records - half, 1, seed=2),
            make_records(args.records, 1, seed=3)]
    singles = make_records(args.single, 1, seed=4)
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        server = ServerProcess.initialised(Path(scratch), workers=args.workers, threads=1,
                                           log_level="warning")
        try:
            with requests.Session() as session:
                devices = [register(server, session) for _ in range(4)]
            tokens = [token for token, _ in devices]
            office_key = devices[0][1]
            sets = [sealed(records, office_key) for records in sets]
            batched = [encode_batches(records, args.batch, True) for records in sets]
            one_by_one = encode_batches(sealed(singles, office_key), 1, False)
            two = [(tokens[0], batched[0]), (tokens[1], batched[1])]
            one = [(tokens[2], batched[2])]
            for name, devices, count in (
                ("2 devices, first push", two, args.records),
                ("2 devices, replay", two, args.records),
                ("1 device, first push", one, args.records),
                ("1 device, replay", one, args.records),
            ):
                secs, statuses = run(server.url, devices, True)
                sent = sum(len(body) for _, bodies in devices for body in bodies)
                rows.append((name + " (gzip)", count, secs, sent, statuses))
            secs, statuses = run(server.url, [(tokens[3], one_by_one)], False)
            rows.append(("1 device, one record/request", args.single, secs,
                         sum(map(len, one_by_one)), statuses))
        finally:
            server.stop()
    sample = json.dumps({"records": sets[2][:args.batch]}).encode()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}, SQLite (synchronous=FULL), gunicorn -w {args.workers}; "
          f"batch {args.batch}; records sealed and bodies encoded before timing")
    print(f"{'scenario':36} {'records':>8} {'seconds':>8} {'records/s':>10} {'bytes/rec':>10}"
          "  statuses")
    for name, count, secs, sent, statuses in rows:
        print(f"{name:36} {count:8d} {secs:8.2f} {count / secs:10.0f} {sent / count:10.0f}"
              f"  {statuses}")
    print(f"request bytes per record in a {args.batch}-record batch: "
          f"{len(sample) / args.batch:.0f} plain JSON, "
          f"{len(gzip.compress(sample, 5)) / args.batch:.0f} gzip")


if __name__ == "__main__":
    main()
