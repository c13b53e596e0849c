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
from field_client.store.migrations import FOREIGN_KEYS_OFF, MIGRATIONS, SCHEMA_VERSION

log = logging.getLogger(__name__)

SQLITE_HEADER = b"SQLite format 3\x00"
BUSY_TIMEOUT_MS = 10_000



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

    def vacuum(self) -> None:
        """Rebuild the database file (``secure_delete`` is on) and empty the WAL: what was
        deleted or overwritten is gone from every page of the file, not just unlinked."""
        if self.in_transaction:
            raise RuntimeError("vacuum cannot run inside Outbox.atomic()")
        with self.mapped_errors():
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
            self._conn.execute("VACUUM")
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()

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
            rebuild = target in FOREIGN_KEYS_OFF
            if rebuild:  # only outside a transaction does this pragma take effect
                self.execute("PRAGMA foreign_keys=OFF")
            try:
                with self.atomic():
                    for statement in MIGRATIONS[target - 1]:
                        self.execute(statement)
                    if rebuild and self.rows("PRAGMA foreign_key_check"):
                        raise OutboxCorrupt(
                            f"Antrean {self.path} tidak dapat diperbarui ke skema {target}: "
                            "rujukan antar-tabel rusak. Berkas itu tidak diubah."
                        )
                    self.execute(f"PRAGMA user_version = {target}")
            finally:
                if rebuild:
                    self.execute("PRAGMA foreign_keys=ON")
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
