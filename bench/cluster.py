"""Cluster benchmark: pushes and uploads per second through nginx with one app server and two.

The cluster of tests/support/cluster.py on this machine: nginx (the deployed site, TLS) in front
of gunicorn app servers sharing one PostgreSQL database and one SeaweedFS bucket, and the job
worker. Two nginx instances run over the same cluster, one round-robin over both app servers and
one over the first only, so both layouts are measured in the same run, alternately, on the same
database. Per run and layout:

1. **push**: ``--devices`` devices at once each push their share of ``--records`` sealed
   records (14 attachments each, so they stay ``received``) in batches of ``--batch``;
2. **upload**: the same devices send the 14 files of ``--upload-records`` of those records by
   tus (create, then one checksummed PATCH of the sealed file, as the field client does for
   files under its 512 KiB chunk); those records become complete and their check jobs wait;
3. **checks**: ``--check-records`` records without files are pushed (complete at once, their
   check jobs wait too), then ``jemput-server worker --processes 1`` starts and the time until
   no job is queued or running gives the records checked per second.

Records are sealed, bodies encoded and files sealed before the clock starts. Each figure is
given as min / median / max over ``--repeat`` runs, and per CPU-second: of the app servers'
gunicorn processes (or the worker's) and of the whole machine (every process, the benchmark's
client threads, nginx, PostgreSQL and SeaweedFS included), both read from /proc. The client
shares the machine's cores with everything else. Not a test: nothing here asserts a timing.

    .venv/bin/python -m bench.cluster [--repeat 3] [--records 1000] [--upload-records 16]
        [--check-records 400] [--devices 4] [--postgresql URL]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import uuid6

if not __package__:  # run as a script (bench/X.py): make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.ingest import encode_batches, register, sealed, send
from server.demo.residents import synthetic_residents
from shared import vocab
from shared.canonical import with_hash
from shared.sealing import seal, unb64
from tests.support.cluster import Cluster, running_cluster
from tests.support.nginx import Nginx
from tests.support.processes import ServerProcess
from tests.support.recordings import FILES
from tests.support.seaweed import fresh_prefix, seaweed_server

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"
TUS = {"Tus-Resumable": "1.0.0"}
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
MEDIA = {"jpg": "image/jpeg", "png": "image/png", "jp2": "image/jp2", "wsq": "image/x-wsq"}
SETTLE_TIMEOUT = 300.0


# -- CPU accounting from /proc ------------------------------------------------------------------

def machine_cpu_seconds() -> float:
    """Busy CPU-seconds of the whole machine since boot (every core, all but idle and iowait)."""
    with open("/proc/stat") as stat:
        fields = [int(value) for value in stat.readline().split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / CLOCK_TICKS


#: Where CPU time goes, by process: the app servers, the worker, nginx, PostgreSQL, SeaweedFS,
#: this benchmark's client threads; "other" is the rest of the machine's busy time.
COMPONENTS = ("app", "worker", "nginx", "postgres", "weed", "client", "other")


def process_cpu(app: set[int], worker: set[int]) -> dict[int, tuple[str, float]]:
    """CPU-seconds used so far by each live process of a component: ``{pid: (component, s)}``.
    The app servers and the worker are known by their process groups, the others by name."""
    found: dict[int, tuple[str, float]] = {}
    me = os.getpid()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as stat:
                text = stat.read()
        except OSError:
            continue  # ended meanwhile
        comm = text[text.index("(") + 1:text.rindex(")")]
        fields = text[text.rindex(")") + 2:].split()
        pid, group = int(entry.name), int(fields[2])
        component = ("app" if group in app else "worker" if group in worker
                     else "client" if pid == me else comm if comm in COMPONENTS else None)
        if component:
            found[pid] = (component, (int(fields[11]) + int(fields[12])) / CLOCK_TICKS)
    return found


@dataclass
class Measure:
    """Wall time, the machine's busy CPU time and each component's, of one phase."""

    seconds: float = 0.0
    machine_cpu: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)


@contextmanager
def measured(cluster: Cluster) -> Iterator[Measure]:
    """Time the block: wall clock, machine CPU, CPU per component (processes that end inside
    the block count under "other")."""
    def groups() -> tuple[set[int], set[int]]:
        app = {server.proc.pid for server in cluster.servers if server.proc is not None}
        worker = {cluster.worker.proc.pid} if cluster.worker.proc is not None else set()
        return app, worker

    result = Measure()
    wall, machine, before = time.perf_counter(), machine_cpu_seconds(), process_cpu(*groups())
    yield result
    after = process_cpu(*groups())
    result.seconds = time.perf_counter() - wall
    result.machine_cpu = machine_cpu_seconds() - machine
    result.cpu = dict.fromkeys(COMPONENTS, 0.0)
    for pid, (component, seconds) in after.items():
        result.cpu[component] += seconds - before.get(pid, (component, 0.0))[1]
    result.cpu["other"] = result.machine_cpu - sum(result.cpu.values())


# -- What devices send --------------------------------------------------------------------------

@dataclass
class Device:
    """A registered device: its token, the office key, and its next sequence number."""

    token: str
    office_key: dict[str, str]
    next_seq: int = 1

    def seqs(self, count: int) -> int:
        first, self.next_seq = self.next_seq, self.next_seq + count
        return first


@dataclass
class Upload:
    """One file as a laptop uploads it: plaintext digest and size, sealed bytes."""

    sha256: str
    size: int
    sealed: bytes
    media_type: str


@dataclass
class Load:
    """One device's share of a run: push bodies, files, and the file-less records' bodies."""

    device: Device
    bodies: list[bytes] = field(default_factory=list)
    uploads: list[Upload] = field(default_factory=list)
    fileless: list[bytes] = field(default_factory=list)


def record(seq: int, payload: dict[str, Any], attachments: list[dict[str, Any]]) -> dict[str, Any]:
    return with_hash({"id": str(uuid6.uuid7()), "seq": seq, "type": "enrollment",
                      "captured_at": "2026-11-27T03:12:45Z", "operator": "op.bench",
                      "payload": payload, "attachments": attachments, "exceptions": []})


def files_for(rng: random.Random, public: bytes) -> tuple[list[dict[str, Any]], list[Upload]]:
    """The 14 files of one recording (random bytes, sizes as tests/support/recordings.py)."""
    attachments, uploads = [], []
    for role in vocab.BIOMETRIC_ROLES:
        suffix, size = FILES[role]
        data = rng.randbytes(size + rng.randrange(-2_000, 2_000))
        sha, media = hashlib.sha256(data).hexdigest(), MEDIA[suffix]
        attachments.append({"role": role, "sha256": sha, "size": len(data), "media_type": media})
        uploads.append(Upload(sha, len(data), seal(public, data), media))
    return attachments, uploads


def fake_files(rng: random.Random) -> list[dict[str, Any]]:
    """14 attachments whose files never come (the record stays ``received``)."""
    return [{"role": role, "sha256": rng.randbytes(32).hex(), "size": 20_000,
             "media_type": "image/jpeg"} for role in vocab.BIOMETRIC_ROLES]


def prepare(device: Device, records: int, with_files: int, fileless: int, batch: int,
            seed: int) -> Load:
    """A device's load: ``records`` sealed records (the first ``with_files`` with real files)
    in push bodies, and ``fileless`` records without files in their own bodies."""
    rng = random.Random(seed)
    public = unb64(device.office_key["public"])
    people = list(synthetic_residents(records + fileless, seed=seed))
    load = Load(device)
    pushed = []
    first = device.seqs(records)
    for offset in range(records):
        if offset < with_files:
            attachments, uploads = files_for(rng, public)
            load.uploads += uploads
        else:
            attachments = fake_files(rng)
        pushed.append(record(first + offset, people[offset], attachments))
    load.bodies = encode_batches(sealed(pushed, device.office_key), batch, True)
    first = device.seqs(fileless)
    plain = [record(first + n, people[records + n], []) for n in range(fileless)]
    load.fileless = encode_batches(sealed(plain, device.office_key), batch, True)
    return load


def upload_all(url: str, load: Load) -> int:
    """Send the load's files one after the other; how many."""
    key_id = load.device.office_key["kid"]
    with requests.Session() as session:
        session.headers.update(TUS | {"Authorization": f"Bearer {load.device.token}",
                                      "Jemput-Protocol": "2"})
        for item in load.uploads:
            meta = {"sha256": item.sha256, "size": str(item.size), "key_id": key_id,
                    "media_type": item.media_type}
            created = session.post(url + "/api/v1/uploads", timeout=60, headers={
                "Upload-Length": str(len(item.sealed)),
                "Upload-Metadata": ",".join(f"{k} {base64.b64encode(v.encode()).decode()}"
                                            for k, v in meta.items())})
            created.raise_for_status()
            checksum = base64.b64encode(hashlib.sha256(item.sealed).digest()).decode()
            patched = session.patch(requests.compat.urljoin(url, created.headers["Location"]),
                                    data=item.sealed, timeout=60, headers={
                                        "Content-Type": "application/offset+octet-stream",
                                        "Upload-Offset": "0",
                                        "Upload-Checksum": f"sha256 {checksum}"})
            patched.raise_for_status()
    return len(load.uploads)


def in_parallel(work: Callable[[Load], Any], loads: list[Load]) -> None:
    with ThreadPoolExecutor(len(loads)) as pool:
        for result in [pool.submit(work, load) for load in loads]:
            result.result()


# -- One run ------------------------------------------------------------------------------------

@dataclass
class Rates:
    """Per scenario and run: items per second, and CPU-milliseconds per item by component."""

    rows: dict[str, list[tuple[float, dict[str, float]]]] = field(default_factory=dict)
    #: The component whose CPU a scenario's "per own CPU-s" figure counts.
    own: dict[str, str] = field(default_factory=dict)

    def add(self, name: str, items: int, measure: Measure, own: str = "app") -> None:
        per_item = {component: 1000 * seconds / items for component, seconds in
                    (measure.cpu | {"machine": measure.machine_cpu}).items()}
        self.rows.setdefault(name, []).append((items / measure.seconds, per_item))
        self.own[name] = own


def settle(cluster: Cluster, timeout: float = SETTLE_TIMEOUT) -> None:
    """Wait until no job is queued or running."""
    deadline = time.monotonic() + timeout
    while cluster.query("SELECT count(*) FROM job WHERE state IN ('queued', 'running')")[0][0]:
        if time.monotonic() > deadline:
            raise SystemExit(f"the worker did not finish its jobs in {timeout} s")
        time.sleep(0.1)


def one_run(cluster: Cluster, nginx: Nginx, servers: list[ServerProcess], devices: list[Device],
            args: argparse.Namespace, seed: int, rates: Rates) -> None:
    """Push, upload and (with ``--check-records``) check through ``nginx``."""
    label = f"{len(servers)} app server{'s' if len(servers) > 1 else ''}"
    share, files, fileless = (args.records // len(devices), args.upload_records // len(devices),
                              args.check_records // len(devices))
    loads = [prepare(device, share, files, fileless, args.batch, seed * 100 + n)
             for n, device in enumerate(devices)]
    with measured(cluster) as push:
        in_parallel(lambda load: send(nginx.url, load.device.token, load.bodies, True), loads)
    rates.add(f"push (records), {label}", share * len(loads), push)
    with measured(cluster) as upload:
        in_parallel(lambda load: upload_all(nginx.url, load), loads)
    rates.add(f"upload (files), {label}", sum(len(load.uploads) for load in loads), upload)
    if fileless:
        in_parallel(lambda load: send(nginx.url, load.device.token, load.fileless, True),
                    loads)
    pending = cluster.query("SELECT count(*) FROM enrollment WHERE state = 'complete'")[0][0]
    cluster.worker.start()
    with measured(cluster) as check:
        settle(cluster)
    cluster.worker.stop()
    rates.add("worker checks (records)", int(pending), check, own="worker")


def print_table(rates: Rates, args: argparse.Namespace) -> None:
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}; nginx (TLS) -> gunicorn -w {args.workers} --threads "
          f"{args.threads} per app server; PostgreSQL; SeaweedFS S3; {args.devices} devices at "
          f"once, push batches of {args.batch}; {args.repeat} runs")
    print(f"{'scenario':34} {'min/s':>8} {'median/s':>9} {'max/s':>8} {'per own CPU-s':>14} "
          f"{'per machine CPU-s':>18}")
    for name, values in rates.rows.items():
        per_second = [value[0] for value in values]
        own = statistics.median(value[1][rates.own[name]] for value in values)
        machine = statistics.median(value[1]["machine"] for value in values)
        print(f"{name:34} {min(per_second):8.1f} {statistics.median(per_second):9.1f} "
              f"{max(per_second):8.1f} {_rate(own):>14} {_rate(machine):>18}")
    print("own CPU: the app servers' gunicorn processes (the worker's for its row); machine: "
          "every busy core-second")
    print()
    print("CPU-milliseconds per item (median), by process")
    print(f"{'scenario':34}" + "".join(f"{name:>9}" for name in (*COMPONENTS, "machine")))
    for name, values in rates.rows.items():
        print(f"{name:34}" + "".join(
            f"{statistics.median(value[1][component] for value in values):9.2f}"
            for component in (*COMPONENTS, "machine")))


def _rate(ms_per_item: float) -> str:
    return f"{1000 / ms_per_item:.1f}" if ms_per_item > 0 else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--records", type=int, default=1000, help="records pushed per run")
    parser.add_argument("--upload-records", type=int, default=16,
                        help="records whose 14 files are uploaded per run")
    parser.add_argument("--check-records", type=int, default=400,
                        help="records without files pushed per run, for the worker to check")
    parser.add_argument("--devices", type=int, default=4)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--workers", type=int, default=1, help="gunicorn workers per server")
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker")
    parser.add_argument("--postgresql", default=os.environ.get("JEMPUT_TEST_DATABASE_URL")
                        or DEFAULT_PG, help="a PostgreSQL server to make a scratch database on")
    args = parser.parse_args()
    rates = Rates()
    with tempfile.TemporaryDirectory() as scratch, seaweed_server(Path(scratch) / "weed") as s3, \
            running_cluster(Path(scratch) / "cluster", args.postgresql, s3, fresh_prefix(),
                            start_worker=False, workers=args.workers,
                            threads=args.threads) as cluster:
        os.environ["REQUESTS_CA_BUNDLE"] = str(cluster.nginx.cert)
        single = Nginx(Path(scratch) / "nginx-one", [f"127.0.0.1:{cluster.servers[0].port}"],
                       tls=cluster.nginx.tls)
        single.start()
        try:
            with requests.Session() as session:
                devices = [Device(*register(cluster.servers[0], session))
                           for _ in range(args.devices)]
            for run in range(args.repeat):
                for nginx, servers in ((single, cluster.servers[:1]),
                                       (cluster.nginx, cluster.servers)):
                    one_run(cluster, nginx, servers, devices, args, seed=run * 2 + len(servers),
                            rates=rates)
        finally:
            single.stop()
    print_table(rates, args)


if __name__ == "__main__":
    main()
