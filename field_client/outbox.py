"""The transactional outbox: one SQLite file per device home, opened with durable settings.

Every finalized record is written here in one ``BEGIN IMMEDIATE ... COMMIT`` transaction with
``synchronous=FULL`` in WAL mode before the operator is told it is saved. A file that is not a
healthy database is never deleted, renamed or overwritten: it is reported and left for a human.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from field_client.errors import (
    FieldClientError,
    OutboxBusy,
    OutboxCorrupt,
    OutboxIncompatible,
    StorageError,
)

log = logging.getLogger(__name__)

SQLITE_HEADER = b"SQLite format 3\x00"
BUSY_TIMEOUT_MS = 10_000

# Forward migrations: entry N takes the schema from user_version N to N + 1. Statements run one
# by one inside one transaction together with the new user_version (executescript would commit).
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE meta (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        )""",
        """CREATE TABLE record (
            id TEXT PRIMARY KEY,
            seq INTEGER NOT NULL UNIQUE CHECK (seq >= 1),
            state TEXT NOT NULL,
            body TEXT,
            record_sha256 TEXT NOT NULL,
            nik TEXT,
            nama TEXT,
            operator TEXT NOT NULL,
            captured_at TEXT NOT NULL,
            supersedes TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            sent_at TEXT,
            completed_at TEXT,
            purged_at TEXT,
            error_code TEXT,
            error_message TEXT,
            server_state TEXT,
            CHECK (body IS NOT NULL OR purged_at IS NOT NULL)
        )""",
        "CREATE INDEX record_state_seq ON record (state, seq)",
        "CREATE INDEX record_nik ON record (nik)",
        """CREATE TABLE file (
            record_id TEXT NOT NULL REFERENCES record (id) ON DELETE CASCADE,
            role TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            size INTEGER NOT NULL CHECK (size > 0),
            media_type TEXT NOT NULL,
            path TEXT NOT NULL,
            PRIMARY KEY (record_id, role)
        )""",
        "CREATE INDEX file_sha256 ON file (sha256)",
        "INSERT INTO meta (key, value) VALUES ('next_seq', '1'), ('pull_cursor', '0')",
    ),
    (
        # One row per file (by content) the server still needs or has confirmed: the tus upload
        # URL and the offset acknowledged by the server, so a restarted client resumes there.
        """CREATE TABLE upload (
            sha256 TEXT PRIMARY KEY,
            size INTEGER NOT NULL CHECK (size > 0),
            media_type TEXT NOT NULL,
            url TEXT,
            offset INTEGER NOT NULL DEFAULT 0 CHECK (offset >= 0 AND offset <= size),
            state TEXT NOT NULL CHECK (state IN ('needed', 'done', 'failed')),
            error_code TEXT,
            error_message TEXT,
            updated_at TEXT NOT NULL
        )""",
        "CREATE INDEX upload_state ON upload (state)",
        # Records a version-1 client left `sent` (server has them, files never uploaded): their
        # files are needed, or those records would wait forever.
        """INSERT OR IGNORE INTO upload (sha256, size, media_type, state, updated_at)
           SELECT f.sha256, MAX(f.size), MAX(f.media_type), 'needed',
                  strftime('%Y-%m-%dT%H:%M:%SZ', 'now')
           FROM file f JOIN record r ON r.id = f.record_id
           WHERE r.state = 'sent' GROUP BY f.sha256""",
    ),
    (
        # Fixes: a record names the one it corrects (``supersedes``); listing and the fix
        # command look up the newer version of a record. ``state`` has no CHECK, so the new
        # state ``superseded`` needs no table rebuild.
        "CREATE INDEX IF NOT EXISTS record_supersedes ON record (supersedes)",
    ),
    (
        # Outreach: a visit assigned to this device and its target list (residents still to
        # record there), as the server sent them. Deleted when the visit is closed or over
        # (PII minimisation). ``nama_search`` is the name folded for searching (no accents,
        # case-folded): searching compares with instr(), never with LIKE patterns.
        """CREATE TABLE outreach_visit (
            id TEXT PRIMARY KEY,
            desa_kode TEXT NOT NULL,
            desa_nama TEXT NOT NULL,
            kecamatan_kode TEXT,
            kecamatan_nama TEXT,
            visit_date TEXT NOT NULL,
            ends_on TEXT NOT NULL,
            days INTEGER NOT NULL CHECK (days >= 1),
            team TEXT NOT NULL,
            state TEXT NOT NULL,
            target_count INTEGER NOT NULL CHECK (target_count >= 0),
            received_at TEXT NOT NULL
        )""",
        """CREATE TABLE outreach_target (
            visit_id TEXT NOT NULL REFERENCES outreach_visit (id) ON DELETE CASCADE,
            nik TEXT NOT NULL,
            nama TEXT NOT NULL,
            nama_search TEXT NOT NULL,
            tanggal_lahir TEXT,
            jenis_kelamin TEXT,
            alamat TEXT,
            rt TEXT,
            rw TEXT,
            PRIMARY KEY (visit_id, nik)
        )""",
        "CREATE INDEX outreach_target_nik ON outreach_target (nik)",
    ),
    (
        # Printing: when the server's status last changed (the pull entry's ``at``), so
        # ``records`` can say "sudah dicetak <date>" with the office's date, not the sync's.
        "ALTER TABLE record ADD COLUMN server_state_at TEXT",
    ),
    (
        # The operator web app: the operators of the device's team with their PIN hashes and
        # the desa offered on the form (the device profile, replaced whole on every sync), and
        # drafts: what an operator typed before saving, with uploaded files staged on disk.
        # A saved draft stays as a tombstone (record_id set, form and exceptions emptied) so a
        # second finalize of the same draft finds the record instead of saving another.
        """CREATE TABLE IF NOT EXISTS operator (
            username TEXT PRIMARY KEY,
            nama TEXT NOT NULL,
            pin_hash TEXT NOT NULL
        )""",
        """CREATE TABLE IF NOT EXISTS desa (
            kode TEXT PRIMARY KEY,
            nama TEXT NOT NULL
        )""",
        """CREATE TABLE IF NOT EXISTS draft (
            id TEXT PRIMARY KEY,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            operator TEXT,
            form TEXT,
            exceptions TEXT,
            supersedes TEXT,
            target_nik TEXT,
            source_record TEXT,
            record_id TEXT,
            saved_at TEXT
        )""",
        """CREATE TABLE IF NOT EXISTS draft_file (
            draft_id TEXT NOT NULL REFERENCES draft (id) ON DELETE CASCADE,
            role TEXT NOT NULL,
            filename TEXT NOT NULL,
            media_type TEXT NOT NULL,
            size INTEGER NOT NULL,
            path TEXT NOT NULL,
            PRIMARY KEY (draft_id, role)
        )""",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)


class Outbox:
    """An open outbox database; use :meth:`atomic` around every change."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._depth = 0
        self._conn = _connect(self.path)
        try:
            self._configure()
            self._migrate()
            _restrict_permissions(self.path)
        except BaseException:
            self._conn.close()
            raise

    # -- connection -------------------------------------------------------------------------

    @property
    def conn(self) -> sqlite3.Connection:
        """The raw connection (for tests and diagnostics; prefer the methods)."""
        return self._conn

    def close(self) -> None:
        """Close the connection; the outbox object cannot be used afterwards."""
        self._conn.close()

    def __enter__(self) -> Outbox:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    @contextmanager
    def atomic(self) -> Iterator[None]:
        """Run the block in one transaction (a savepoint when nested); roll back on any error."""
        with self.mapped_errors():
            outer = self._depth == 0
            name = f"sp{self._depth}"
            self._conn.execute("BEGIN IMMEDIATE" if outer else f"SAVEPOINT {name}")
            self._depth += 1
            try:
                yield
                self._conn.execute("COMMIT" if outer else f"RELEASE {name}")
            except BaseException:
                self._rollback(outer, name)
                raise
            finally:
                self._depth -= 1

    @property
    def in_transaction(self) -> bool:
        """Whether an :meth:`atomic` block is open."""
        return self._depth > 0

    def execute(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> sqlite3.Cursor:
        """Run one statement, turning disk problems into :class:`StorageError`."""
        with self.mapped_errors():
            return self._conn.execute(sql, params)

    def executemany(self, sql: str, params: Iterable[Sequence[Any]]) -> sqlite3.Cursor:
        """Run one statement for each parameter tuple; call inside :meth:`atomic`."""
        with self.mapped_errors():
            return self._conn.executemany(sql, params)

    def checkpoint(self) -> None:
        """Copy the WAL into the database file and empty it (best effort; never raises).

        After deleting personal data this keeps the deleted rows from lingering in the WAL.
        """
        if self.in_transaction:
            return
        try:
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        except sqlite3.Error:
            log.warning("WAL checkpoint of %s failed", self.path)

    def rows(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[sqlite3.Row]:
        """All rows of a query."""
        with self.mapped_errors():
            return self._conn.execute(sql, params).fetchall()

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """The first column of the first row of a query, or None."""
        with self.mapped_errors():
            row = self._conn.execute(sql, params).fetchone()
        return None if row is None else row[0]

    @contextmanager
    def mapped_errors(self) -> Iterator[None]:
        """Translate SQLite's disk and corruption errors into field client errors."""
        try:
            yield
        except sqlite3.Error as exc:
            mapped = translate_sqlite_error(exc, self.path)
            if mapped is None:
                raise
            raise mapped from exc

    # -- meta -------------------------------------------------------------------------------

    def get_meta(self, key: str, default: str | None = None) -> str | None:
        """One value of the ``meta`` table."""
        value = self.scalar("SELECT value FROM meta WHERE key = ?", (key,))
        return default if value is None else str(value)

    def set_meta(self, key: str, value: str | int | None) -> None:
        """Store (or with None remove) one ``meta`` value; call inside :meth:`atomic`."""
        if value is None:
            self.execute("DELETE FROM meta WHERE key = ?", (key,))
        else:
            self.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, str(value)),
            )

    def meta(self) -> dict[str, str]:
        """The whole ``meta`` table."""
        return {row["key"]: row["value"] for row in self.rows("SELECT key, value FROM meta")}

    def allocate_seq(self) -> int:
        """Take the next device sequence number; it is never handed out again, even if purged."""
        if not self.in_transaction:
            raise RuntimeError("allocate_seq must run inside Outbox.atomic()")
        seq = self.next_seq()
        self.set_meta("next_seq", seq + 1)
        return seq

    def next_seq(self) -> int:
        """The seq the next record will get (read only)."""
        stored = int(self.get_meta("next_seq", "1") or "1")
        # Belt and braces: never below what the record table already holds.
        highest = int(self.scalar("SELECT COALESCE(MAX(seq), 0) FROM record"))
        return max(stored, highest + 1)

    # -- setup ------------------------------------------------------------------------------

    def _configure(self) -> None:
        with self.mapped_errors():
            check = [row[0] for row in self._conn.execute("PRAGMA quick_check").fetchall()]
            if check != ["ok"]:
                raise _corrupt(self.path, "; ".join(str(c) for c in check[:3]))
            mode = self._conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                log.warning("outbox %s runs in journal mode %s, not WAL", self.path, mode)
            self._conn.execute("PRAGMA synchronous=FULL")
            self._conn.execute("PRAGMA foreign_keys=ON")
            # Deleted rows (purged records, target lists of finished visits) are overwritten,
            # not left readable in free pages of the file.
            self._conn.execute("PRAGMA secure_delete=ON")
            self._conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")

    def _migrate(self) -> None:
        version = int(self.scalar("PRAGMA user_version"))
        if version > SCHEMA_VERSION:
            raise OutboxIncompatible(
                f"Antrean {self.path} dibuat oleh versi jemput-field yang lebih baru (skema "
                f"{version}, versi ini mengenal {SCHEMA_VERSION}). Perbarui jemput-field; "
                "berkas itu tidak diubah."
            )
        for target in range(version + 1, SCHEMA_VERSION + 1):
            with self.atomic():
                for statement in MIGRATIONS[target - 1]:
                    self.execute(statement)
                self.execute(f"PRAGMA user_version = {target}")
            log.info("outbox %s migrated to schema %d", self.path, target)

    def _rollback(self, outer: bool, name: str) -> None:
        # SQLite already rolled the whole transaction back after SQLITE_FULL and some I/O
        # errors; a second ROLLBACK would fail and hide the real error.
        if not self._conn.in_transaction:
            return
        try:
            if outer:
                self._conn.execute("ROLLBACK")
            else:
                self._conn.execute(f"ROLLBACK TO {name}")
                self._conn.execute(f"RELEASE {name}")
        except sqlite3.Error:
            log.exception("rollback of the outbox failed")


def open_outbox(path: Path) -> Outbox:
    """Open (creating when absent) the outbox at ``path`` and bring its schema up to date."""
    return Outbox(path)


def translate_sqlite_error(exc: sqlite3.Error, path: Path) -> FieldClientError | None:
    """The field client error for a SQLite error about the disk or the file, else None."""
    primary = (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF
    text = str(exc).lower()
    where = f"({path})"
    if primary in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB) or "not a database" in text:
        return _corrupt(path, str(exc))
    if primary == sqlite3.SQLITE_FULL or "disk is full" in text:
        return StorageError(
            f"Penyimpanan penuh {where}: perubahan terakhir dibatalkan, rekaman yang sudah "
            "tersimpan tetap aman. Kosongkan ruang disk lalu ulangi."
        )
    if primary == sqlite3.SQLITE_READONLY or "readonly" in text:
        return StorageError(
            f"Antrean tidak dapat ditulis {where}: disk atau berkasnya hanya-baca. Perubahan "
            "terakhir dibatalkan, rekaman yang sudah tersimpan tetap aman."
        )
    if primary in (sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PERM):
        return StorageError(
            f"Gangguan disk saat memakai antrean {where}: {exc}. Perubahan terakhir dibatalkan; "
            "periksa disk lalu ulangi."
        )
    if (
        primary in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
        or "database is locked" in text
        or "database table is locked" in text
    ):
        return OutboxBusy(
            f"Antrean sedang dipakai proses lain terlalu lama {where}. Tidak ada yang diubah; "
            "tunggu sebentar lalu ulangi."
        )
    return None


def _connect(path: Path) -> sqlite3.Connection:
    """Open the SQLite connection after checking, read-only, that the file is a database."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError(f"Folder antrean {path.parent} tidak dapat dibuat: {exc}.") from exc
    _check_header(path)
    try:
        # Autocommit mode: every transaction is explicit (see Outbox.atomic).
        conn = sqlite3.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
    except sqlite3.Error as exc:
        raise translate_sqlite_error(exc, path) or StorageError(str(exc)) from exc
    conn.row_factory = sqlite3.Row
    return conn


def _check_header(path: Path) -> None:
    """Refuse a non-empty file that does not start with SQLite's magic header."""
    try:
        with open(path, "rb") as stream:
            head = stream.read(len(SQLITE_HEADER))
    except FileNotFoundError:
        return
    except IsADirectoryError:
        raise _corrupt(path, "ini sebuah folder, bukan berkas") from None
    except OSError as exc:
        raise StorageError(f"Antrean {path} tidak dapat dibaca: {exc}.") from exc
    if head and head != SQLITE_HEADER:
        raise _corrupt(path, "berkas ini bukan database SQLite")


def _restrict_permissions(path: Path) -> None:
    # The outbox (and its WAL) holds residents' personal data and the device token: owner only.
    for name in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        try:
            if name.exists():
                os.chmod(name, 0o600)
        except OSError:
            log.warning("could not restrict permissions of %s", name)


def _corrupt(path: Path, detail: str) -> OutboxCorrupt:
    return OutboxCorrupt(
        f"Berkas antrean {path} rusak atau bukan database antrean Jemput ({detail}). Berkas itu "
        "dibiarkan apa adanya: tidak dihapus, tidak diganti nama, tidak ditimpa. Salin berkas "
        "itu untuk petugas teknis; untuk terus merekam sementara, pakai folder lain dengan "
        "--home."
    )
