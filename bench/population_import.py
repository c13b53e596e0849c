"""Population import at province scale: ``jemput-server import-population`` on a resident file.

Makes a scratch database (``--postgresql`` server, or SQLite with ``--sqlite``), runs
``jemput-server init`` and imports the national region table, then times the real command as
its own process on a file from ``bench/province_csv.py`` (written first if missing): the first
import into an empty registry, then the same file again (all unchanged). Per run: wall time,
the command's CPU (user + system), the PostgreSQL backends' CPU on that database (sampled from
``/proc``), CPU per row and the command's peak RSS. Prints min/median/max over ``--runs``.

    .venv/bin/python -m bench.population_import [--residents 5000000] [--runs 3]
        [--file /tmp/jemput-province.csv] [--postgresql postgresql://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench import province_csv
from tests.support.cluster import scratch_database

BIN = Path(sys.executable).parent
TICK = os.sysconf("SC_CLK_TCK")


@dataclass
class Run:
    wall: float
    cpu: float  # the command's user + system seconds
    db_cpu: float  # PostgreSQL backends' seconds on the scratch database
    rss_mb: float


class BackendCpu:
    """Sum of user + system CPU of the PostgreSQL processes serving ``database`` (sampled every
    0.2 s; a backend's last sample counts after it exits)."""

    def __init__(self, database: str) -> None:
        self.name, self.seen = database.encode(), {}  # type: ignore[var-annotated]
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> BackendCpu:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()

    @property
    def seconds(self) -> float:
        return sum(self.seen.values()) / TICK

    def _sample(self) -> None:
        while not self.stop.wait(0.2):
            for pid in os.listdir("/proc"):
                if not pid.isdigit():
                    continue
                try:
                    command = Path(f"/proc/{pid}/cmdline").read_bytes()
                    ours = command.startswith(b"postgres: ") and self.name in command
                    if not ours:
                        continue
                    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                self.seen[pid] = int(fields[11]) + int(fields[12])


def command(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([str(BIN / "jemput-server"), *args], env=env, text=True,
                          capture_output=True)
    if done.returncode:
        raise SystemExit(f"jemput-server {args[0]} failed: {done.stdout[-2000:]}"
                         f"{done.stderr[-2000:]}")
    return done


#: Runs a command and prints its own CPU seconds and peak RSS (KiB): a fresh parent per run,
#: so one run's peak does not carry into the next (RUSAGE_CHILDREN keeps the maximum).
MEASURED = (
    "import resource, subprocess, sys\n"
    "code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode\n"
    "use = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
    "print(code, use.ru_utime + use.ru_stime, use.ru_maxrss)\n"
)


def timed_import(env: dict[str, str], path: Path, database: str | None) -> Run:
    """Run ``import-population`` once as a child; its wall time, CPU and peak RSS."""
    started = time.perf_counter()
    with BackendCpu(database or "\0") as backends:
        done = subprocess.run([sys.executable, "-c", MEASURED, str(BIN / "jemput-server"),
                               "import-population", str(path)],
                              env=env, text=True, capture_output=True, check=True)
    wall = time.perf_counter() - started
    code, cpu, rss = done.stdout.split()
    if code != "0":
        raise SystemExit(f"import failed ({code}): {done.stderr[-2000:]}")
    return Run(wall, float(cpu), backends.seconds, int(rss) / 1024)


@contextmanager
def database(postgresql: str | None, folder: Path) -> Iterator[tuple[str, str | None]]:
    """A scratch database URL and its PostgreSQL name (None for SQLite)."""
    if postgresql is None:
        yield f"sqlite:///{folder / 'bench.db'}", None
        return
    with scratch_database(postgresql, "jemput_bench_import") as url:
        yield url, url.rsplit("/", 1)[1]


def one_round(path: Path, postgresql: str | None) -> tuple[Run, Run]:
    """A fresh database: the first import, then the same file again."""
    with tempfile.TemporaryDirectory() as scratch, database(postgresql, Path(scratch)) as (
            url, name):
        env = {**os.environ, "JEMPUT_DATABASE_URL": url, "JEMPUT_INSTANCE_PATH": scratch,
               "JEMPUT_SECRET_KEY": "bench-secret-key-bench-secret-key",
               "JEMPUT_KEYRING": str(Path(scratch) / "keyring.json"),
               "JEMPUT_IMPORT_MAX_BYTES": str(8 * 1024**3), "JEMPUT_JOBS": "inline"}
        command(env, "init")
        command(env, "import-regions", str(province_csv.REGIONS))
        first = timed_import(env, path, name)
        again = timed_import(env, path, name)
    return first, again


def spread(values: list[float], digits: int = 1) -> str:
    return " / ".join(f"{value:,.{digits}f}" for value in
                      (min(values), statistics.median(values), max(values)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=5_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--file", type=Path, default=None)
    parser.add_argument("--postgresql", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--sqlite", action="store_true", help="SQLite instead of PostgreSQL")
    args = parser.parse_args(argv)
    path = args.file or Path(tempfile.gettempdir()) / f"jemput-province-{args.residents}.csv"
    if not path.exists():
        province_csv.write(path, args.residents)
    server = None if args.sqlite else args.postgresql
    rounds = [one_round(path, server) for _ in range(args.runs)]
    rows = args.residents
    size = path.stat().st_size / 1024**2
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}; {rows:,} residents, {size:,.0f} MB"
          f"; {'SQLite' if args.sqlite else 'PostgreSQL'}; min / median / max of {args.runs}")
    print("| import | wall s | command CPU s | database CPU s | CPU µs per row | peak RSS MB |")
    print("|---|---:|---:|---:|---:|---:|")
    for label, runs in (("first (all new)", [r[0] for r in rounds]),
                        ("again (all unchanged)", [r[1] for r in rounds])):
        print(f"| {label} | {spread([r.wall for r in runs])} | {spread([r.cpu for r in runs])} | "
              f"{spread([r.db_cpu for r in runs])} | "
              f"{spread([(r.cpu + r.db_cpu) / rows * 1e6 for r in runs], 0)} | "
              f"{spread([r.rss_mb for r in runs], 0)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
