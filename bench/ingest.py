"""Ingest benchmark: push 10,000 enrollment records to a real server on loopback.

Measures records/s for (1) batched pushes, (2) the same batches again (a replay: every record a
duplicate), (3) the naive way, one record per request; and bytes on the wire per record with and
without gzip. Prints a table. Not a test: nothing here asserts a timing.

    .venv/bin/python bench/ingest.py [--records 10000] [--batch 500] [--single 1000]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests
import uuid6

from server.demo_data import synthetic_residents
from shared import vocab
from shared.canonical import seal

BIN = Path(sys.executable).parent
CODE = re.compile(r"\b[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}\b")


def make_records(count: int, first_seq: int, seed: int) -> list[dict[str, Any]]:
    """Sealed records with a realistic attachment list (photo, signature, irises, 10 fingers)."""
    records = []
    for offset, payload in enumerate(synthetic_residents(count, seed=seed)):
        attachments = [
            {
                "role": role,
                "sha256": f"{(seed * 1_000_003 + offset * 31 + index):064x}",
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
        records.append(seal(record))
    return records


class Server:
    """``gunicorn 'server:create_app()'`` on loopback over a scratch instance folder."""

    def __init__(self, instance: Path, workers: int) -> None:
        self.instance = instance
        self.env = dict(os.environ, JEMPUT_INSTANCE_PATH=str(instance))
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.cli("init")
        self.proc = subprocess.Popen(
            [str(BIN / "gunicorn"), "-b", f"127.0.0.1:{self.port}", "-w", str(workers),
             "--log-level", "warning", "server:create_app()"],
            env=self.env, start_new_session=True,
        )
        for _ in range(300):
            try:
                requests.get(self.url + "/healthz", timeout=1).raise_for_status()
                return
            except requests.RequestException:
                time.sleep(0.1)
        raise SystemExit("server did not start")

    def cli(self, *args: str) -> str:
        done = subprocess.run([str(BIN / "jemput-server"), *args], env=self.env,
                              capture_output=True, text=True, check=True)
        return done.stdout + done.stderr

    def device_token(self, session: requests.Session) -> str:
        code = CODE.search(self.cli("device-code", "--team", "BENCH"))
        assert code
        answer = session.post(self.url + "/api/v1/devices",
                              json={"code": code.group(0), "name": "bench"}, timeout=30)
        answer.raise_for_status()
        return str(answer.json()["token"])

    def stop(self) -> None:
        os.killpg(self.proc.pid, signal.SIGTERM)
        self.proc.wait(timeout=30)


def push_all(session: requests.Session, url: str, token: str, records: list[dict[str, Any]],
             batch: int, use_gzip: bool) -> tuple[float, int, dict[str, int]]:
    """Push in batches; return seconds, request bytes sent, and status counts."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    if use_gzip:
        headers["Content-Encoding"] = "gzip"
    sent = 0
    statuses: dict[str, int] = {}
    start = time.perf_counter()
    for index in range(0, len(records), batch):
        body = json.dumps({"records": records[index:index + batch]}).encode()
        if use_gzip:
            body = gzip.compress(body, compresslevel=5)
        sent += len(body)
        answer = session.post(url + "/api/v1/sync/push", data=body, headers=headers, timeout=300)
        answer.raise_for_status()
        for result in answer.json()["results"]:
            statuses[result["status"]] = statuses.get(result["status"], 0) + 1
    return time.perf_counter() - start, sent, statuses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--single", type=int, default=1_000,
                        help="records sent one per request (the naive way)")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    records = make_records(args.records, 1, seed=1)
    singles = make_records(args.single, args.records + 1, seed=2)
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        server = Server(Path(scratch), args.workers)
        try:
            session = requests.Session()
            token = server.device_token(session)
            secs, sent, st = push_all(session, server.url, token, records, args.batch, True)
            rows.append(("batched, first push (gzip)", len(records), secs, sent, st))
            secs, sent, st = push_all(session, server.url, token, records, args.batch, True)
            rows.append(("batched, replay (gzip)", len(records), secs, sent, st))
            secs, sent, st = push_all(session, server.url, token, singles, 1, False)
            rows.append(("one record per request", len(singles), secs, sent, st))
        finally:
            server.stop()
    plain = len(json.dumps({"records": records[:args.batch]}).encode()) / args.batch
    zipped = len(gzip.compress(json.dumps({"records": records[:args.batch]}).encode(), 5))
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}, SQLite, gunicorn -w {args.workers}; batch {args.batch}")
    print(f"{'scenario':30} {'records':>8} {'seconds':>8} {'records/s':>10} {'bytes/rec':>10}"
          "  statuses")
    for name, count, secs, sent, statuses in rows:
        print(f"{name:30} {count:8d} {secs:8.2f} {count / secs:10.0f} {sent / count:10.0f}"
              f"  {statuses}")
    print(f"wire size per record in a {args.batch}-record batch: {plain:.0f} B plain JSON, "
          f"{zipped / args.batch:.0f} B gzip")


if __name__ == "__main__":
    main()
