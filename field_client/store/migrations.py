"""The outbox's schema, as forward migrations applied by ``Outbox`` when it opens a file.

Entry N takes the schema from ``PRAGMA user_version`` N to N + 1; a file newer than
``SCHEMA_VERSION`` is refused (``OutboxIncompatible``), never downgraded.
"""

from __future__ import annotations

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
    (
        # Operator-bound data key: the laptop keeps no PIN hash. Per operator only the wrap of
        # the device's data key under the key the PIN derives (Argon2id: salt and cost); the
        # operators' names and the desa travel and rest under the data key (meta
        # ``profile_sealed``). Wrong PINs are counted per operator. The old hashes and lists go:
        # the next sync fetches the new profile.
        "DROP TABLE IF EXISTS operator",
        "DROP TABLE IF EXISTS desa",
        """CREATE TABLE IF NOT EXISTS operator_key (
            username TEXT PRIMARY KEY,
            salt TEXT NOT NULL,
            opslimit INTEGER NOT NULL,
            memlimit INTEGER NOT NULL,
            wrap TEXT NOT NULL
        )""",
        """CREATE TABLE IF NOT EXISTS login_lock (
            username TEXT PRIMARY KEY,
            failures INTEGER NOT NULL DEFAULT 0,
            lockouts INTEGER NOT NULL DEFAULT 0,
            locked_until TEXT
        )""",
        "DELETE FROM meta WHERE key IN ('profile_version', 'ui_pin_failures', 'ui_locked_until')",
    ),
    (
        # Sealed at save (protocol 2). A record keeps in clear only its id, seq, state and
        # times; the record itself is a box sealed to the office key (``sealed``, ``key_id``,
        # ``sealed_sha256``); ``label`` (masked name, operator), ``returned`` (what the office
        # sent back) are boxes under the device's data key; ``nik_mac`` a keyed hash for the
        # local checks. A record of an older schema keeps its clear text in ``legacy_body``
        # only until the upgrade (``sync/upgrade.py``) seals it: no sync before that.
        # The table is rebuilt (the old CHECK needed a body); foreign keys are off meanwhile
        # (``FOREIGN_KEYS_OFF``), so ``file`` keeps its rows.
        """CREATE TABLE record_v8 (
            id TEXT PRIMARY KEY,
            seq INTEGER NOT NULL UNIQUE CHECK (seq >= 1),
            state TEXT NOT NULL,
            key_id TEXT,
            sealed BLOB,
            sealed_sha256 TEXT,
            record_sha256 TEXT NOT NULL,
            nik_mac TEXT,
            label BLOB,
            returned BLOB,
            legacy_body TEXT,
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
            server_state_at TEXT,
            CHECK (sealed IS NOT NULL OR legacy_body IS NOT NULL OR purged_at IS NOT NULL)
        )""",
        # The office's reasons used to be kept in clear in error_message (without a code):
        # they go, and come back under the data key when the upgrade replays the pull feed.
        """INSERT INTO record_v8 (id, seq, state, record_sha256, legacy_body, captured_at,
               supersedes, created_at, updated_at, sent_at, completed_at, purged_at,
               error_code, error_message, server_state, server_state_at)
           SELECT id, seq, state, record_sha256, body, captured_at, supersedes, created_at,
               updated_at, sent_at, completed_at, purged_at, error_code,
               CASE WHEN error_code IS NULL THEN NULL ELSE error_message END,
               server_state, server_state_at
           FROM record""",
        "DROP TABLE record",
        "ALTER TABLE record_v8 RENAME TO record",
        "CREATE INDEX record_state_seq ON record (state, seq)",
        "CREATE INDEX record_supersedes ON record (supersedes)",
        "CREATE INDEX record_nik_mac ON record (nik_mac)",
        # A file is kept sealed (``<sha256>.sealed``); sha256 and size stay the plaintext's
        # (what the record and the server name); an older schema's clear file has no key_id.
        "ALTER TABLE file ADD COLUMN key_id TEXT",
        "ALTER TABLE file ADD COLUMN sealed_sha256 TEXT",
        "ALTER TABLE file ADD COLUMN sealed_size INTEGER",
        # An upload sends the sealed bytes: ``size`` is theirs, ``plain_size`` the file's.
        "ALTER TABLE upload ADD COLUMN plain_size INTEGER",
        "ALTER TABLE upload ADD COLUMN key_id TEXT",
        # A target list rests as the server sent it: one box under the data key per visit
        # (sync stores it without a PIN; a logged-in operator opens it). An older schema's
        # clear lists go: the upgrade fetches them again.
        "DELETE FROM outreach_target",
        "DROP TABLE outreach_target",
        "ALTER TABLE outreach_visit ADD COLUMN sealed BLOB",
        # Drafts rest under the data key: ``sealed`` holds form, exceptions and target; files
        # are encrypted on disk (``encrypted``) or name a record's sealed file (``sha256``).
        "ALTER TABLE draft ADD COLUMN sealed BLOB",
        "ALTER TABLE draft ADD COLUMN target_mac TEXT",
        "ALTER TABLE draft_file ADD COLUMN encrypted INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE draft_file ADD COLUMN sha256 TEXT",
        # Until the upgrade has sealed the old queue, nothing is synced.
        """INSERT OR REPLACE INTO meta (key, value)
           SELECT 'upgrade_pending', '1' WHERE EXISTS (SELECT 1 FROM record)
               OR EXISTS (SELECT 1 FROM outreach_visit) OR EXISTS (SELECT 1 FROM upload)""",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)
#: Migrations that rebuild a table others reference: run with foreign keys off (SQLite's
#: documented procedure), then checked with ``PRAGMA foreign_key_check`` before the commit.
FOREIGN_KEYS_OFF = frozenset({8})
