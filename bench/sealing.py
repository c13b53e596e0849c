"""What sealing costs (issue 16): the PIN search, a login, a save, and the server's push.

Prints four tables. Not a test: nothing here asserts a timing.

1. **The PIN key.** One Argon2id derivation at the production cost of ``shared/pin.py`` (what one
   guess of an offline PIN search costs, and what a login costs on the laptop): seconds a guess,
   guesses a second a core, and the days the 10^8 PINs of an eight-digit PIN take on the
   machine's cores (the whole space; half on average).
2. **A save on the laptop.** One record with 14 files of realistic sizes (photo 60 KB, fingers
   15-25 KB, irises 30 KB, signature 10 KB: 330 KB) saved through ``FieldClient.enroll`` into a
   file-backed outbox, in a child process; with ``--baseline-tree DIR`` (a checkout of the code
   before sealing: ``git worktree add DIR REV``) the old save is timed beside it, interleaved.
   And the sealing work alone (the record and its 14 files sealed to the office key).
3. **The server's push, in process** (issue 19). One device pushes fresh sealed records
   (``ingest.push``, batches of ``--batch``), first push and replay, in records per CPU-second of
   the app process plus the PostgreSQL backends of the database (read from ``/proc``); the
   opening and verifying of one sealed record (``envelope.open_envelope``) is reported apart,
   and the first push is also given less that opening. Each run is a child process on a fresh
   database; with ``--baseline-tree DIR`` (older code) the same runs of that code are
   interleaved with this tree's and the ratio of the medians printed. ``--plain`` adds
   protocol 1's push of the same records in clear (``ingest.push_plain``).
4. **Bytes on the wire** per record: the push item (gzip of a 500-record batch) and the files.

Each figure is the min / median / max over ``--repeat`` runs (fresh records each run).

    .venv/bin/python -m bench.sealing [--records 2000] [--repeat 3] [--postgresql URL]
        [--baseline-tree DIR] [--server-only] [--plain]

``--postgresql`` names a scratch database: each run drops and makes again its public schema.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

if not __package__:  # run as a script (bench/X.py): make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import uuid6

from bench.timing import on_databases
from server.demo.residents import synthetic_residents
from shared import pin, vocab
from shared.canonical import with_hash
from shared.sealing import b64, seal, seal_record
from tests.support.keys import OFFICE_KEY

#: Realistic sizes of a recording's files (bytes), by role.
SIZES = {"photo": 60_000, "signature": 10_000, "iris_left": 30_000, "iris_right": 30_000}
FINGER_SIZES = (15_000, 16_000, 17_000, 18_000, 19_000, 21_000, 22_000, 23_000, 24_000, 25_000)


Spread = tuple[float, float, float]


def spread(values: list[float]) -> tuple[float, float, float]:
    return min(values), statistics.median(values), max(values)


def pin_table(repeat: int) -> list[tuple[str, str]]:
    cost = pin.KDF_COST
    salt = pin.new_salt()
    times = []
    for index in range(max(repeat, 3)):
        started = time.process_time()
        pin.derive_key(f"{index:08d}", salt, cost)
        times.append(time.process_time() - started)
    low, mid, high = spread(times)
    cores = os.cpu_count() or 1
    days = 10**8 * mid / cores / 86400
    return [
        ("Argon2id cost (shared/pin.py)",
         f"{cost.opslimit} passes, {cost.memlimit // (1024 * 1024)} MiB"),
        ("CPU seconds a guess (min / median / max)", f"{low:.3f} / {mid:.3f} / {high:.3f}"),
        ("guesses a second a core (median)", f"{1 / mid:.2f}"),
        (f"the 10^8 PINs on {cores} cores", f"{days:.0f} days (half on average)"),
    ]


def suffix_of(role: str) -> str:
    if role.startswith("iris"):
        return ".jp2"
    return {"photo": ".jpg", "signature": ".png"}.get(role, ".wsq")


def recording_sizes() -> dict[str, int]:
    """A recording's 14 files' realistic sizes, by role."""
    fingers = iter(FINGER_SIZES)
    return {role: SIZES.get(role) or next(fingers) for role in vocab.BIOMETRIC_ROLES}


#: Times ``--saves`` saves of a 14-file record in a fresh home with the code found first on
#: ``sys.path`` (this tree, or ``--baseline-tree``): prints the milliseconds as JSON. The same
#: script serves both trees; a tree before sealing has no ``data_key`` and no office key.
SAVE_SCRIPT = """
import inspect, json, os, sys, tempfile, time
from pathlib import Path
from field_client.client import FieldClient
from field_client.config import load_settings
from server.demo.residents import synthetic_residents
count, ROLES = int(sys.argv[1]), json.loads(sys.argv[2])
sealed = "data_key" in inspect.signature(FieldClient.enroll).parameters
times = []
with tempfile.TemporaryDirectory() as scratch:
    folder = Path(scratch)
    people = list(synthetic_residents(count + 1, seed=7))
    with FieldClient(settings=load_settings(folder / "home", environ={})) as client:
        options = {}
        if sealed:
            from shared import datakey
            from tests.support.keys import give_office_key
            with client.outbox.atomic():
                give_office_key(client.outbox)
            options["data_key"] = datakey.new_data_key()
        for index in range(count + 1):
            files = {}
            for role, (suffix, size) in ROLES.items():
                path = folder / "capture" / f"{index}-{role}{suffix}"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(os.urandom(size))
                files[role] = path
            started = time.perf_counter()
            client.enroll(dict(people[index]), "op.bench", files, **options)
            if index:
                times.append((time.perf_counter() - started) * 1000)
print(json.dumps(times))
"""


def saves_in(tree: Path, count: int) -> list[float]:
    """Save times (ms) measured in a child process running the code of ``tree`` (with this
    tree's ``bench`` on the path for the files it writes)."""
    here = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tree), str(here)])}
    roles = {role: (path.suffix, size) for role, size in recording_sizes().items()
             for path in [Path("x" + suffix_of(role))]}
    done = subprocess.run([sys.executable, "-c", SAVE_SCRIPT, str(count), json.dumps(roles)],
                          env=env,
                          capture_output=True, text=True, check=True, cwd=tree)
    times: list[float] = json.loads(done.stdout.strip().splitlines()[-1])
    return times


def save_table(repeat: int, baseline: Path | None) -> list[tuple[str, str]]:
    here = Path(__file__).resolve().parents[1]
    now: list[float] = []
    before: list[float] = []
    for _ in range(repeat):  # interleaved, so both see the same machine
        now += saves_in(here, 5)
        if baseline:
            before += saves_in(baseline, 5)
    public = bytes(OFFICE_KEY.public_key)
    blobs = [os.urandom(size) for size in recording_sizes().values()]
    seals = []
    for _ in range(max(repeat, 3) * 5):
        started = time.perf_counter()
        for blob in blobs:
            seal(public, blob)
        seal_record(public, {"payload": {"nama": "X" * 2000}})
        seals.append((time.perf_counter() - started) * 1000)
    rows = [("files a record", f"14, {sum(map(len, blobs)) / 1000:.0f} KB"),
            ("save now (sealed), ms (min / median / max)", "{:.1f} / {:.1f} / {:.1f}".format(
                *spread(now)))]
    if before:
        rows.append(("save before (baseline tree), ms", "{:.1f} / {:.1f} / {:.1f}".format(
            *spread(before))))
        difference = statistics.median(now) - statistics.median(before)
        rows.append(("median difference, ms", f"{difference:+.1f}"))
    rows.append(("sealing record + 14 files alone, ms", "{:.1f} / {:.1f} / {:.1f}".format(
        *spread(seals))))
    return rows


def make_records(count: int, seed: int) -> list[dict[str, Any]]:
    """Records with 14 attachments each, as ``bench.ingest`` makes them (unique per seed)."""
    records = []
    for offset, payload in enumerate(synthetic_residents(count, seed=seed)):
        attachments = [
            {"role": role,
             "sha256": hashlib.sha256(f"{seed}:{offset}:{role}".encode()).hexdigest(),
             "size": 16_000 + index,
             "media_type": "image/jpeg" if role in ("photo", "signature") else "image/x-wsq"}
            for index, role in enumerate(vocab.BIOMETRIC_ROLES)
        ]
        records.append(with_hash({
            "id": str(uuid6.uuid7()), "seq": 1 + offset, "type": "enrollment",
            "captured_at": "2026-11-27T03:12:45Z", "operator": "op.bench", "payload": payload,
            "attachments": attachments, "exceptions": []}))
    return records


#: One run of the server's push in process, in a child process running the code found first on
#: ``sys.path`` (this tree, or ``--baseline-tree``): prints its figures as JSON. Self-contained
#: but for the server's own functions, so that an older tree runs it as it is.
SERVER_SCRIPT = """
import hashlib, json, os, sys, time, uuid
from pathlib import Path
import flask_migrate
import uuid6
from sqlalchemy import text
from server import create_app
from server.core import keyring
from server.core.extensions import db, dispose_engines
from server.core.models import Device
from server.demo.residents import synthetic_residents
from server.registry import regions
from server.sync import envelope, ingest
from shared import vocab
from shared.canonical import with_hash
from shared.sealing import b64, seal_record

url, instance, count, batch, seed, plain = (sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]),
                                            int(sys.argv[4]), int(sys.argv[5]),
                                            sys.argv[6] == "1")
TICK = os.sysconf("SC_CLK_TCK")

def records(seed):
    out = []
    for offset, payload in enumerate(synthetic_residents(count, seed=seed)):
        attachments = [
            {"role": role, "sha256": hashlib.sha256(f"{seed}:{offset}:{role}".encode()).hexdigest(),
             "size": 16_000 + index,
             "media_type": "image/jpeg" if role in ("photo", "signature") else "image/x-wsq"}
            for index, role in enumerate(vocab.BIOMETRIC_ROLES)]
        out.append(with_hash({
            "id": str(uuid6.uuid7()), "seq": 1 + offset, "type": "enrollment",
            "captured_at": "2026-11-27T03:12:45Z", "operator": "op.bench", "payload": payload,
            "attachments": attachments, "exceptions": []}))
    return out

def device():
    device_id = str(uuid.uuid4())
    db.session.add(Device(id=device_id, name=f"bench-{device_id[:8]}", team="TIM-1",
                          kecamatan_kode="61.09.04",
                          token_hash=hashlib.sha256(device_id.encode()).hexdigest()))
    db.session.commit()
    return device_id

def backends():
    # CPU seconds of this database's PostgreSQL backends, by pid (none on SQLite).
    if db.engine.dialect.name != "postgresql":
        return {}
    pids = db.session.execute(text(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database()")).scalars().all()
    db.session.commit()
    spent = {}
    for pid in pids:
        # Inline, not bench.timing: this script runs against older trees as they are.
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        spent[pid] = (int(fields[11]) + int(fields[12])) / TICK
    return spent

def measure(work):
    before, started = backends(), time.process_time()
    work()
    app_cpu = time.process_time() - started
    after = backends()
    return app_cpu, sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())

def batches(push, device_id, items):
    for index in range(0, len(items), batch):
        push(device_id, items[index:index + batch])

if url.startswith("postgresql"):  # shared configuration: a secret key and a key ring file
    os.environ.setdefault("JEMPUT_SECRET_KEY", "jemput-bench-secret-key")
    os.environ["JEMPUT_KEYRING"] = str(instance / "keyring.json")
    keyring.ensure(instance / "keyring.json")
os.environ["JEMPUT_INSTANCE_PATH"] = str(instance)
app = create_app({"SQLALCHEMY_DATABASE_URI": url})
with app.app_context():  # a migrated database holding only the Sekadau regions
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        db.session.commit()
    flask_migrate.upgrade()
    regions.seed_sekadau()
figures = {}
with app.app_context():
    ring = keyring.current()
    current = ring.sealing
    sealed = records(seed)
    items = [{"id": r["id"], "seq": r["seq"], "key_id": current.kid,
              "sealed": b64(seal_record(current.public, r))} for r in sealed]
    envelopes = [envelope.read_envelope(item) for item in items]
    started = time.process_time()
    for one in envelopes:
        envelope.open_envelope(ring, one)
    figures["open"] = time.process_time() - started
    runs = [("first", ingest.push, items), ("replay", ingest.push, items)]
    if plain:
        clear = records(seed + 50_000)
        runs += [("v1 first", ingest.push_plain, clear), ("v1 replay", ingest.push_plain, clear)]
    devices = {}
    for name, push, work in runs:
        key = name.startswith("v1")
        devices.setdefault(key, device())
        figures[name] = measure(lambda: batches(push, devices[key], work))
dispose_engines(app)
print(json.dumps(figures))
"""


def server_run(tree: Path, url: str, instance: Path, count: int, batch: int, seed: int,
               plain: bool) -> dict[str, Any]:
    """One in-process run of the push with the code of ``tree``, in a child process."""
    here = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tree), str(here)])}
    instance.mkdir(parents=True, exist_ok=True)
    done = subprocess.run([sys.executable, "-c", SERVER_SCRIPT, url, str(instance), str(count),
                           str(batch), str(seed), "1" if plain else "0"],
                          env=env, capture_output=True, text=True, cwd=tree, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"server run in {tree} failed:\n{done.stderr[-3000:]}")
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def server_rows(url: str, folder: Path, count: int, repeat: int, batch: int,
                trees: list[tuple[str, Path]], plain: bool) -> dict[str, Spread]:
    """Rows of the in-process table for one database: each tree's runs interleaved."""
    figures: dict[str, list[float]] = {}

    def add(name: str, value: float) -> None:
        figures.setdefault(name, []).append(value)

    for run in range(repeat):
        for label, tree in trees:
            # A fresh SQLite file each run (each tree migrates its own); PostgreSQL's schema
            # is made again by each run.
            run_url = (f"sqlite:///{folder / f'bench-{label}-{run}.db'}"
                       if url.startswith("sqlite") else url)
            got = server_run(tree, run_url, folder / f"instance-{label}-{run}", count, batch,
                             seed=200 + run, plain=plain)
            tag = f" [{label}]" if len(trees) > 1 else ""
            add(f"open + verify, µs a record{tag}", got["open"] / count * 1e6)
            for name, title in (("first", "first push"), ("replay", "replay"),
                                ("v1 first", "v1 first push (clear)"),
                                ("v1 replay", "v1 replay (clear)")):
                if name not in got:
                    continue
                app_cpu, backend_cpu = got[name]
                add(f"{title}, app+db rec/CPU-s{tag}", count / (app_cpu + backend_cpu))
                if name == "first":
                    add(f"{title} less opening, rec/CPU-s{tag}",
                        count / (app_cpu + backend_cpu - got["open"]))
                add(f"{title}, db backend µs a record{tag}", backend_cpu / count * 1e6)
    return {name: spread(values) for name, values in figures.items()}


def bytes_table(count: int, batch: int) -> list[tuple[str, str]]:
    records = make_records(min(count, batch), seed=9)
    public = bytes(OFFICE_KEY.public_key)
    clear = json.dumps({"records": records}).encode()
    sealed = json.dumps({"records": [
        {"id": r["id"], "seq": r["seq"], "key_id": "20261206-00000000",
         "sealed": b64(seal_record(public, r))} for r in records]}).encode()
    per = len(records)
    return [
        ("push item, v1 clear JSON / gzip, bytes a record",
         f"{len(clear) / per:.0f} / {len(gzip.compress(clear, 5)) / per:.0f}"),
        ("push item, v2 envelope / gzip, bytes a record",
         f"{len(sealed) / per:.0f} / {len(gzip.compress(sealed, 5)) / per:.0f}"),
        ("files, sealing overhead a record", "14 x 48 = 672 bytes (of 330 KB: 0.2 %)"),
        ("file uploads a record (one tus upload a file)",
         "14 creations + 14 PATCHes (one chunk each below the chunk size)"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--records", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--postgresql", help="also run the server part on this database URL")
    parser.add_argument("--baseline-tree", type=Path,
                        help="a checkout of older code (git worktree add DIR REV): its save and "
                             "its push are timed beside this one's")
    parser.add_argument("--server-only", action="store_true",
                        help="only the server's push (no PIN key, save or bytes tables)")
    parser.add_argument("--plain", action="store_true",
                        help="also push the records in clear, as protocol 1 did")
    args = parser.parse_args()

    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}, {time.strftime('%Y-%m-%d')}")
    if not args.server_only:
        for title, rows in (("PIN key (one guess = one login)", pin_table(args.repeat)),
                            ("save on the laptop", save_table(args.repeat, args.baseline_tree)),
                            ("bytes", bytes_table(args.records, args.batch))):
            print(f"\n{title}")
            for name, value in rows:
                print(f"  {name:52} {value}")
    here = Path(__file__).resolve().parents[1]
    trees = [("now", here)] + ([("baseline", args.baseline_tree)] if args.baseline_tree else [])
    print(f"\nserver push, in process, one device, {args.records} records x {args.repeat} runs, "
          f"batches of {args.batch} (min / median / max); CPU = this process + the database's "
          "PostgreSQL backends")
    results = on_databases(
        lambda url, folder: server_rows(url, folder, args.records, args.repeat, args.batch,
                                        trees, args.plain),
        args.postgresql)
    print_table(results)
    if args.baseline_tree:
        for engine, figures in results:
            for name in [n for n in figures if n.endswith("[now]") and "rec/CPU-s" in n]:
                base = figures[name.replace("[now]", "[baseline]")][1]
                print(f"  {engine}: {name[:-6]}: now / baseline (medians) "
                      f"{figures[name][1] / base:.2f}x")


def print_table(results: list[tuple[str, dict[str, Spread]]]) -> None:
    names = list(results[0][1])
    print(f"  {'':52}" + "".join(f"{engine:>26}" for engine, _ in results))
    for name in names:
        cells = "".join(
            "{:>26}".format(" / ".join(f"{v:.0f}" for v in figures[name]))
            for _, figures in results)
        print(f"  {name:52}{cells}")


if __name__ == "__main__":
    main()
