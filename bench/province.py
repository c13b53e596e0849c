"""Province scale on PostgreSQL: a template database of Kalimantan Barat that benchmarks copy.

Builds ONCE (again only with ``--rebuild``) the PostgreSQL database ``h_prov_template``: the
schema (the migrations), Kalimantan Barat's real kabupaten, kecamatan and desa (read from
``../shared/data/wilayah_kemendagri_2025.csv``, never copied into the repository), 5,000,000
synthetic residents spread over its desa (about a third under 17, a few married under 17, about
85 % of the wajib KTP recorded in SIAK), two devices per kecamatan, and 1,000,000 Jemput
records in a realistic mix of states, each with its 14 attachment rows (as ``bench/reconcile.py``
makes them), plus the cases of the records that need review. Everything is set-based SQL
(``INSERT ... SELECT generate_series``), so it builds in minutes.

Other benchmarks import :func:`template_url`, :func:`fresh_copy` and :func:`drop`::

    from bench import province
    url = province.fresh_copy("h_prov_pages")   # CREATE DATABASE ... TEMPLATE h_prov_template
    ...
    province.drop("h_prov_pages")

    .venv/bin/python -m bench.province build [--rebuild] [--residents N] [--records N]
    .venv/bin/python -m bench.province sizes
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import flask_migrate
import psycopg
from psycopg import sql

from server import create_app
from server.core import keyring
from server.core.extensions import dispose_engines
from shared import vocab

SERVER = os.environ.get("JEMPUT_BENCH_PG", "postgresql://postgres@127.0.0.1:5432")
TEMPLATE = "h_prov_template"
BUILDING = "h_prov_template_build"
PREFIX = "h_prov_"
PROVINCE = "61"
REGIONS_CSV = Path(__file__).resolve().parents[2] / "shared" / "data" / \
    "wilayah_kemendagri_2025.csv"
RESIDENTS = 5_000_000
RECORDS = 1_000_000
#: Share of the picked records that are a second record of an already picked NIK.
SECOND_RECORDS = 0.04
FIRST = ("MARIA", "YOHANES", "AGUSTINUS", "SITI", "MARKUS", "ELISABET", "PETRUS", "DEWI",
         "ANDREAS", "KRISTINA", "ANTONIUS", "RINA", "YOSEF", "HERLINA", "FRANSISKUS", "NURHAYATI",
         "MUHAMMAD", "AHMAD", "NURUL", "HENDRA", "SRI", "BUDI", "YULIANA", "RUDI")
LAST = ("GORETTI", "BOSCO", "SUGIANTO", "LIMBAI", "JUNAIDI", "UNTUNG", "AYUNI", "TAMBUN",
        "SIMANJUNTAK", "PURBA", "SAGALA", "NAINGGOLAN", "SETIAWAN", "HIDAYAT", "LEONARDUS",
        "SYAHRIAL", "KURNIAWAN", "WIJAYA", "SAPUTRA", "RAHMAN")
#: The records' states, cumulative share (a province well into its campaign).
STATE_MIX = (("received", 0.02), ("complete", 0.05), ("needs_fix", 0.07),
             ("needs_review", 0.12), ("verified", 0.22), ("approved", 0.42),
             ("suket_issued", 0.50), ("printed", 0.955), ("rejected", 0.97),
             ("duplicate", 0.985), ("superseded", 1.0))


def url_of(name: str, driver: str = "postgresql+psycopg") -> str:
    """The URL of database ``name`` on the benchmark server."""
    return f"{SERVER.replace('postgresql', driver, 1)}/{name}"


def template_url() -> str:
    """The template's URL (read only: a connection to it blocks copies)."""
    return url_of(TEMPLATE)


@contextmanager
def admin() -> Iterator[psycopg.Connection[Any]]:
    """An autocommit connection to the server's ``postgres`` database."""
    with psycopg.connect(url_of("postgres", "postgresql"), autocommit=True) as conn:
        yield conn


def exists(name: str) -> bool:
    with admin() as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                            (name,)).fetchone() is not None


def drop(name: str) -> None:
    """Drop scratch database ``name`` (only ours: the ``h_prov_`` prefix)."""
    if not name.startswith(PREFIX):
        raise ValueError(f"not a scratch database of this bench: {name}")
    with admin() as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
                     .format(sql.Identifier(name)))


def fresh_copy(name: str) -> str:
    """A new database ``name`` copied from the template (built first if missing); its URL."""
    if not exists(TEMPLATE):
        build()
    drop(name)
    started = time.perf_counter()
    with admin() as conn:
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}")
                     .format(sql.Identifier(name), sql.Identifier(TEMPLATE)))
    print(f"copied {TEMPLATE} to {name} in {time.perf_counter() - started:.0f} s",
          file=sys.stderr)
    return url_of(name)


def make_app(url: str, instance: Path, **config: Any) -> Any:
    """The server app over ``url`` (scratch secret key and key ring, as bench.reconcile)."""
    os.environ["JEMPUT_INSTANCE_PATH"] = str(instance)
    ring = instance / keyring.FILE_NAME
    keyring.ensure(ring)
    return create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "jemput-bench-secret-key",
                       "JEMPUT_KEYRING": str(ring), "JEMPUT_JOBS": "worker", **config})


def migrate(url: str) -> float:
    """Upgrade the database at ``url`` to the newest migration; seconds taken."""
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch:
        app = make_app(url, Path(scratch))
        with app.app_context():
            flask_migrate.upgrade()
        dispose_engines(app)
    return time.perf_counter() - started


# --- the build --------------------------------------------------------------------------------


def region_rows() -> list[tuple[str, str, int]]:
    """Kalimantan Barat's rows of the national table: (kode, nama, level)."""
    with REGIONS_CSV.open(newline="", encoding="utf-8") as handle:
        return [(row["kode"], row["nama"], row["kode"].count(".") + 1)
                for row in csv.DictReader(handle)
                if row["kode"] == PROVINCE or row["kode"].startswith(PROVINCE + ".")]


def _array(values: tuple[str, ...]) -> str:
    return "ARRAY[" + ", ".join(f"'{value}'" for value in values) + "]"


def _state_case(roll: str) -> str:
    parts = [f"WHEN {roll} < {share} THEN '{state}'" for state, share in STATE_MIX]
    return "CASE " + " ".join(parts) + " ELSE 'printed' END"


def steps(residents: int, records: int) -> list[tuple[str, str]]:
    """The build's SQL, step by step: (name, statement)."""
    first, last = _array(FIRST), _array(LAST)
    second = int(records * SECOND_RECORDS)
    roles = _array(vocab.BIOMETRIC_ROLES)
    return [
        ("desa slots", """
            -- each desa gets 2 to 10 slots: some desa are five times as populous as others
            CREATE UNLOGGED TABLE bench_slot AS
            SELECT row_number() OVER (ORDER BY kode, n) - 1 AS slot, kode AS desa_kode
            FROM region CROSS JOIN LATERAL
                 generate_series(1, 2 + (hashtext(kode) & 1023) * 8 / 1023) AS n
            WHERE level = 4;"""),
        ("people placed and aged", f"""
            SELECT setseed(0.61);
            CREATE UNLOGGED TABLE bench_placed AS
            WITH people AS (
                SELECT g AS i, floor(random() * (SELECT count(*) FROM bench_slot))::bigint
                           AS slot,
                       random() AS agepick, random() AS age2, random() AS marry,
                       random() AS siak, random() AS woman
                FROM generate_series(1, {residents}) AS g)
            SELECT p.i, s.desa_kode,
                   -- ~1/3 under 17: 0-17 years uniform, else 17-85 thinning with age
                   (CURRENT_DATE - (CASE WHEN p.agepick < 0.33
                        THEN floor(p.age2 * 17 * 365.25)
                        ELSE floor(17 * 365.25 + (68 * 365.25) * p.age2 * p.age2) END)::int
                   ) AS born,
                   p.marry, p.siak, p.woman < 0.49 AS woman
            FROM people p JOIN bench_slot s ON s.slot = p.slot;"""),
        ("residents", f"""
            INSERT INTO resident (nik, nama, tempat_lahir, tanggal_lahir, jenis_kelamin,
                golongan_darah, alamat, rt, rw, desa_kode, agama, status_perkawinan, pekerjaan,
                kewarganegaraan, recorded, updated_at)
            SELECT replace(substr(desa_kode, 1, 8), '.', '')
                       || lpad((extract(day FROM born)::int + CASE WHEN woman THEN 40 ELSE 0 END)
                               ::text, 2, '0')
                       || to_char(born, 'MMYY')
                       || lpad(row_number() OVER (PARTITION BY substr(desa_kode, 1, 8), born,
                                                  woman ORDER BY i)::text, 4, '0'),
                   ({first})[1 + i % {len(FIRST)}] || ' ' || ({last})[1 + (i / 7) % {len(LAST)}],
                   'SEKADAU', born, CASE WHEN woman THEN 'PEREMPUAN' ELSE 'LAKI-LAKI' END,
                   'O', 'DUSUN ' || (i % 9 + 1), lpad((i % 12 + 1)::text, 3, '0'),
                   lpad((i % 5 + 1)::text, 3, '0'), desa_kode, 'KATHOLIK',
                   CASE WHEN born > CURRENT_DATE - interval '17 years'
                        THEN CASE WHEN born <= CURRENT_DATE - interval '14 years'
                                   AND marry < 0.03 THEN 'KAWIN' ELSE 'BELUM KAWIN' END
                        WHEN marry < 0.62 THEN 'KAWIN' WHEN marry < 0.88 THEN 'BELUM KAWIN'
                        WHEN marry < 0.94 THEN 'CERAI HIDUP' ELSE 'CERAI MATI' END,
                   CASE WHEN born > CURRENT_DATE - interval '17 years' THEN 'PELAJAR/MAHASISWA'
                        ELSE 'PETANI/PEKEBUN' END, 'WNI',
                   -- ~85 % of the wajib (adults; the married young) are in SIAK already
                   (born <= CURRENT_DATE - interval '17 years'
                    OR (born <= CURRENT_DATE - interval '14 years' AND marry < 0.03))
                   AND siak < 0.85,
                   now()
            FROM bench_placed;"""),
        ("devices", """
            INSERT INTO device (id, name, team, kecamatan_kode, token_hash, created_at,
                                last_seen_at, first_seq, last_seq, received_count)
            SELECT gen_random_uuid()::text, 'laptop-' || replace(k.kode, '.', '') || '-' || n,
                   'TIM-' || replace(k.kode, '.', '') || '-' || n, k.kode,
                   md5(k.kode || ':' || n) || md5(n || ':' || k.kode),
                   now() - interval '400 days', now() - (n || ' hours')::interval, 1, 0, 0
            FROM region k CROSS JOIN generate_series(1, 2) AS n WHERE k.level = 3;"""),
        ("records (staging)", f"""
            SELECT setseed(0.17);
            CREATE UNLOGGED TABLE bench_pick AS
            SELECT nik, nama, tanggal_lahir, jenis_kelamin, desa_kode, status_perkawinan
            FROM resident
            WHERE CASE WHEN NOT recorded AND (tanggal_lahir <= CURRENT_DATE - interval '17 years'
                                              OR status_perkawinan = 'KAWIN')
                       THEN random() < 0.62
                       WHEN tanggal_lahir > CURRENT_DATE - interval '17 years'
                            AND tanggal_lahir <= CURRENT_DATE - interval '16 years'
                       THEN random() < 0.3
                       WHEN recorded THEN random() < 0.25
                       ELSE false END
            ORDER BY random()
            LIMIT {records - second};
            INSERT INTO bench_pick
            SELECT * FROM bench_pick ORDER BY random() LIMIT {second};"""),
        ("records", f"""
            SELECT setseed(0.29);
            CREATE UNLOGGED TABLE bench_records AS
            SELECT gen_random_uuid()::text AS id, d.id AS device_id,
                   p.nik, p.nama, p.tanggal_lahir, p.jenis_kelamin, p.desa_kode,
                   p.status_perkawinan, random() AS roll,
                   -- a campaign of a year, busier lately
                   now() - (365 * 24 * 3600 * power(random(), 1.6)) * interval '1 second'
                       AS received_at
            FROM bench_pick p
            JOIN (SELECT id, kecamatan_kode,
                         row_number() OVER (PARTITION BY kecamatan_kode ORDER BY id) - 1 AS n
                  FROM device) d
              ON d.kecamatan_kode = substr(p.desa_kode, 1, 8) AND d.n = (hashtext(p.nik) & 1);
            DROP TABLE bench_pick;
            INSERT INTO enrollment (id, device_id, seq, type, captured_at, operator, nik,
                desa_kode, payload, exceptions, warnings, supersedes, record_sha256,
                sealed_sha256, key_id, state, state_reason, received_at, state_changed_at)
            SELECT id, device_id,
                   row_number() OVER (PARTITION BY device_id ORDER BY received_at, id),
                   'enrollment', received_at - interval '1 day', 'op.bench', nik, desa_kode,
                   json_build_object('nik', nik, 'nama', nama, 'tempat_lahir', 'SEKADAU',
                       'tanggal_lahir', tanggal_lahir, 'jenis_kelamin', jenis_kelamin,
                       'golongan_darah', 'O', 'alamat', 'DUSUN HULU', 'rt', '001', 'rw', '002',
                       'desa_kode', desa_kode, 'agama', 'KATHOLIK',
                       'status_perkawinan', status_perkawinan, 'pekerjaan', 'PETANI/PEKEBUN',
                       'kewarganegaraan', 'WNI'),
                   '[]'::json, '[]'::json, NULL, repeat('0', 64), NULL, NULL,
                   {_state_case('roll')},
                   CASE WHEN roll >= 0.05 AND roll < 0.07 THEN 'Foto buram, ulangi.' END,
                   received_at,
                   received_at + (CASE WHEN roll < 0.02 THEN 0 ELSE 3 END) * interval '1 day'
            FROM bench_records;
            DROP TABLE bench_records;
            UPDATE device d SET last_seq = s.n, received_count = s.n
            FROM (SELECT device_id, count(*) AS n FROM enrollment GROUP BY device_id) s
            WHERE s.device_id = d.id;"""),
        ("attachments (14 per record)", f"""
            ALTER TABLE attachment DROP CONSTRAINT pk_attachment;
            DROP INDEX ix_attachment_sha256;
            INSERT INTO attachment (enrollment_id, role, sha256, size, media_type)
            SELECT e.id, r.role, encode(sha256(convert_to(e.id || ':' || r.role, 'UTF8')), 'hex'),
                   20000, CASE WHEN r.role = 'photo' THEN 'image/jpeg' ELSE 'image/x-wsq' END
            FROM enrollment e CROSS JOIN unnest({roles}) AS r(role);
            ALTER TABLE attachment ADD CONSTRAINT pk_attachment
                PRIMARY KEY (enrollment_id, role);
            CREATE INDEX ix_attachment_sha256 ON attachment (sha256);"""),
        ("cases", """
            INSERT INTO "case" (kind, key, state, explanation, desa_kode, team, device_id,
                                opened_at, resolved_at, resolved_by, resolution, version)
            SELECT CASE WHEN e.state = 'needs_review' THEN
                        (ARRAY['registry_mismatch', 'duplicate_nik', 'not_in_registry',
                               'outside_area', 'shared_biometric'])[1 + (hashtext(e.id) & 3)]
                        ELSE 'registry_mismatch' END,
                   'bench:' || e.id,
                   CASE WHEN e.state = 'needs_review' THEN 'open' ELSE 'resolved' END,
                   'Data rekaman berbeda dengan registri (sintetis).', e.desa_kode, d.team,
                   e.device_id, e.received_at + interval '1 hour',
                   CASE WHEN e.state = 'needs_review' THEN NULL
                        ELSE e.state_changed_at END,
                   CASE WHEN e.state = 'needs_review' THEN NULL ELSE 'bench' END,
                   CASE WHEN e.state = 'needs_review' THEN NULL ELSE 'approve' END, 1
            FROM enrollment e JOIN device d ON d.id = e.device_id
            WHERE e.state = 'needs_review' OR (e.state = 'approved' AND hashtext(e.id) & 7 = 0)
            ORDER BY e.received_at;
            INSERT INTO case_record (case_id, enrollment_id, position)
            SELECT c.id, substr(c.key, 7), 0 FROM "case" c WHERE c.key LIKE 'bench:%';"""),
        ("clean up", """
            DROP TABLE bench_placed; DROP TABLE bench_slot;"""),
    ]


def build(rebuild: bool = False, residents: int = RESIDENTS, records: int = RECORDS) -> None:
    """Build the template (unless it exists and not ``rebuild``)."""
    if exists(TEMPLATE) and not rebuild:
        print(f"{TEMPLATE} exists (use --rebuild to build it again)", file=sys.stderr)
        return
    started = time.perf_counter()
    drop(BUILDING)
    with admin() as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(BUILDING)))
    seconds = migrate(url_of(BUILDING))
    print(f"schema migrated in {seconds:.1f} s", file=sys.stderr)
    with psycopg.connect(url_of(BUILDING, "postgresql"), autocommit=True) as conn:
        conn.execute("SET work_mem = '256MB'")
        conn.execute("SET maintenance_work_mem = '1GB'")
        # Foreign keys are checked by construction here, not row by row (14 M attachments).
        conn.execute("SET session_replication_role = replica")
        with conn.cursor().copy("COPY region (kode, nama, level) FROM STDIN") as copy:
            for row in region_rows():
                copy.write_row(row)
        for name, statement in steps(residents, records):
            step = time.perf_counter()
            with conn.transaction():
                conn.execute(statement)  # type: ignore[arg-type]
            print(f"{name}: {time.perf_counter() - step:.0f} s", file=sys.stderr)
        step = time.perf_counter()
        conn.execute("VACUUM ANALYZE")
        print(f"vacuum analyze: {time.perf_counter() - step:.0f} s", file=sys.stderr)
    drop(TEMPLATE)
    with admin() as conn:
        conn.execute(sql.SQL("ALTER DATABASE {} RENAME TO {}")
                     .format(sql.Identifier(BUILDING), sql.Identifier(TEMPLATE)))
    print(f"{TEMPLATE} built in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    print_sizes(TEMPLATE)


def print_sizes(name: str = TEMPLATE) -> None:
    """Row counts and sizes of the template's big tables, and free disk."""
    with psycopg.connect(url_of(name, "postgresql"), autocommit=True) as conn:
        total = conn.execute("SELECT pg_size_pretty(pg_database_size(current_database()))"
                             ).fetchone()
        print(f"{name}: {total[0] if total else '?'}")
        for table in ("region", "resident", "device", "enrollment", "attachment", "case",
                      "case_record"):
            row = conn.execute(sql.SQL(
                "SELECT count(*), pg_size_pretty(pg_total_relation_size({})) FROM {}")
                .format(sql.Literal(table), sql.Identifier(table))).fetchone()
            assert row is not None
            print(f"  {table:12} {row[0]:>10,} rows {row[1]:>10}")
        states = conn.execute("SELECT state, count(*) FROM enrollment GROUP BY state "
                              "ORDER BY 2 DESC").fetchall()
        print("  states: " + ", ".join(f"{s} {n:,}" for s, n in states))
        wajib = conn.execute("""
            SELECT count(*) FILTER (WHERE tanggal_lahir > CURRENT_DATE - interval '17 years'),
                   count(*) FILTER (WHERE tanggal_lahir <= CURRENT_DATE - interval '17 years'
                                    OR status_perkawinan <> 'BELUM KAWIN'),
                   count(*) FILTER (WHERE recorded) FROM resident""").fetchone()
        assert wajib is not None
        print(f"  under 17 {wajib[0]:,}; wajib KTP {wajib[1]:,}; recorded in SIAK {wajib[2]:,}")
    stat = os.statvfs("/")
    print(f"  disk free: {stat.f_bavail * stat.f_frsize / 2**30:.1f} GiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    make = commands.add_parser("build", help="build the template (once)")
    make.add_argument("--rebuild", action="store_true")
    make.add_argument("--residents", type=int, default=RESIDENTS)
    make.add_argument("--records", type=int, default=RECORDS)
    commands.add_parser("sizes", help="row counts and sizes of the template")
    args = parser.parse_args()
    if args.command == "build":
        build(args.rebuild, args.residents, args.records)
    else:
        print_sizes()


if __name__ == "__main__":
    main()
