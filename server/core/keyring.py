"""The office key ring: the key pairs that open what the laptops seal.

One JSON file (mode 0600), ``<instance>/keyring.json`` unless ``JEMPUT_KEYRING`` names another
path every host can read. ``jemput-server init`` makes it (and so does the first start of an
app on a fresh SQLite instance); ``jemput-server rotate-key`` adds a new sealing key pair and
makes it the one laptops seal to, keeping the older ones so that what was sealed to them still
opens. The ring also holds the Ed25519 **audit key** that signs the audit chain's anchors
(``server.core.anchors``) and the **Suket key** that MACs the Suket QR tokens
(``server.cards.suket``; ``jemput-server rotate-suket-key`` adds a new one and keeps the older
ones, so printed QR codes still verify), apart from the sealing keys; a ring made before either
existed gets it the first time it is loaded by ``ensure``. Back the key ring up with the
database: without it no sealed record opens.

On PostgreSQL the ring is shared configuration of every app host: ``JEMPUT_KEYRING`` must name
it (``server.core.config``), only ``jemput-server init`` makes it, and a server whose ring is
not there refuses to start. Each process caches the ring by the file's modification time, so a
rotation made on one host is read by every other one at its next use.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import fcntl
import hashlib
import json
import os
import tempfile
import threading
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
from flask import Flask, current_app
from nacl.public import PrivateKey
from nacl.signing import SigningKey

from server.core.errors import KeyRingMissing
from server.core.timeutil import utcnow
from shared.sealing import SealError, b64, fingerprint, open_sealed, seal, unb64

FORMAT = "jemput-keyring-1"
FILE_NAME = "keyring.json"


@dataclass(frozen=True)
class SealingKey:
    """One sealing key pair of the office, by key id."""

    kid: str
    public: bytes
    secret: bytes
    created_at: str

    @property
    def fingerprint(self) -> str:
        """The public key's fingerprint, as the laptop shows it at registration."""
        return fingerprint(self.public)


@dataclass(frozen=True)
class AuditKey:
    """An Ed25519 key pair that signs audit anchors, by key id."""

    kid: str
    public: bytes
    seed: bytes
    created_at: str

    def sign(self, message: bytes) -> bytes:
        """The detached signature of ``message``."""
        return bytes(SigningKey(self.seed).sign(message).signature)


@dataclass(frozen=True)
class SuketKey:
    """A secret that MACs Suket QR tokens, by key id (short: the id is part of every QR)."""

    kid: str
    secret: bytes = field(repr=False)
    created_at: str


@dataclass(frozen=True)
class KeyRing:
    """Every sealing key pair the office ever had, the current one, the audit keys and the
    Suket keys."""

    keys: dict[str, SealingKey]
    current: str
    audit_keys: dict[str, AuditKey] = field(default_factory=dict)
    audit_current: str | None = None
    suket_keys: dict[str, SuketKey] = field(default_factory=dict)
    suket_current: str | None = None

    @property
    def suket(self) -> SuketKey | None:
        """The key that MACs new Suket tokens (None in a ring from before Suket keys)."""
        return self.suket_keys.get(self.suket_current or "")

    @property
    def audit(self) -> AuditKey | None:
        """The key that signs new anchors (None in a ring from before audit anchors)."""
        return self.audit_keys.get(self.audit_current or "")

    @property
    def sealing(self) -> SealingKey:
        """The key pair laptops seal to now."""
        return self.keys[self.current]

    def secret_for(self, kid: str) -> bytes | None:
        """The secret key of ``kid``, or None when the ring does not hold it."""
        key = self.keys.get(kid)
        return key.secret if key else None

    def seal(self, data: bytes) -> tuple[str, bytes]:
        """``data`` sealed to the current key: (key id, sealed bytes)."""
        return self.current, seal(self.sealing.public, data)

    def open(self, kid: str, sealed: bytes) -> bytes:
        """What ``sealed`` holds, opened with key ``kid`` (``SealError`` when it does not)."""
        secret = self.secret_for(kid)
        if secret is None:
            raise SealError(f"kunci {kid!r} tidak ada di key ring kantor")
        return open_sealed(secret, sealed)

    def document(self) -> dict[str, Any]:
        """The ring as its file holds it."""
        document: dict[str, Any] = {"format": FORMAT, "current": self.current, "sealing": [
            {"kid": k.kid, "public": b64(k.public), "secret": b64(k.secret),
             "created_at": k.created_at} for k in self.keys.values()]}
        if self.audit_keys:
            document["audit_current"] = self.audit_current
            document["audit"] = [
                {"kid": k.kid, "public": b64(k.public), "seed": b64(k.seed),
                 "created_at": k.created_at} for k in self.audit_keys.values()]
        if self.suket_keys:
            document["suket_current"] = self.suket_current
            document["suket"] = [
                {"kid": k.kid, "secret": b64(k.secret), "created_at": k.created_at}
                for k in self.suket_keys.values()]
        return document

    @classmethod
    def from_document(cls, document: Any) -> KeyRing:
        """A ring from its file's JSON; ``ValueError`` when it is not one."""
        if not isinstance(document, dict) or document.get("format") != FORMAT:
            raise ValueError("not a Jemput key ring")
        keys = {item["kid"]: SealingKey(item["kid"], unb64(item["public"]),
                                        unb64(item["secret"]), item["created_at"])
                for item in document["sealing"]}
        if document["current"] not in keys:
            raise ValueError("the key ring's current key is missing")
        audit = {item["kid"]: AuditKey(item["kid"], unb64(item["public"]), unb64(item["seed"]),
                                       item["created_at"])
                 for item in document.get("audit", [])}
        audit_current = document.get("audit_current")
        if audit and audit_current not in audit:
            raise ValueError("the key ring's current audit key is missing")
        suket = {item["kid"]: SuketKey(item["kid"], unb64(item["secret"]), item["created_at"])
                 for item in document.get("suket", [])}
        suket_current = document.get("suket_current")
        if suket and suket_current not in suket:
            raise ValueError("the key ring's current Suket key is missing")
        return cls(keys, document["current"], audit, audit_current, suket, suket_current)


def new_sealing_key(now: dt.datetime | None = None) -> SealingKey:
    """A fresh X25519 key pair with its key id (``20261206-3fa9c2d1``)."""
    secret = PrivateKey.generate()
    public = bytes(secret.public_key)
    moment = now or utcnow()
    kid = f"{moment:%Y%m%d}-{fingerprint(public).replace(' ', '')[:8]}"
    return SealingKey(kid, public, bytes(secret), moment.isoformat())


def new_audit_key(now: dt.datetime | None = None) -> AuditKey:
    """A fresh Ed25519 key pair with its key id (``audit-20261206-3fa9c2d1``)."""
    signing = SigningKey.generate()
    public = bytes(signing.verify_key)
    moment = now or utcnow()
    kid = f"audit-{moment:%Y%m%d}-{fingerprint(public).replace(' ', '')[:8]}"
    return AuditKey(kid, public, bytes(signing), moment.isoformat())


def new_suket_key(now: dt.datetime | None = None, taken: Collection[str] = ()) -> SuketKey:
    """A fresh 256-bit Suket MAC key with a short key id (``s3fa9c2d1``), not one of ``taken``."""
    while True:
        secret = os.urandom(32)
        kid = "s" + hashlib.sha256(b"jemput-suket-kid:" + secret).hexdigest()[:8]
        if kid not in taken:
            return SuketKey(kid, secret, (now or utcnow()).isoformat())


def path_of(app: Flask) -> Path:
    """Where the app's key ring lives."""
    return Path(app.config.get("JEMPUT_KEYRING") or Path(app.instance_path) / FILE_NAME)


_lock = threading.Lock()
#: Per process: the ring last read from each path, under the file's identity (inode, mtime in
#: ns, size). Every write replaces the file (a new inode), so a ring rotated on another host is
#: read again at this process's next use: the cache never decides anything by itself.
_cache: dict[Path, tuple[tuple[int, int, int], KeyRing]] = {}


def load(path: Path) -> KeyRing:
    """The ring in ``path`` (read again when the file changed, as after ``rotate-key``)."""
    try:
        status = path.stat()
    except FileNotFoundError as exc:
        raise KeyRingMissing(f"Key ring kantor tidak ada di {path}. Jalankan jemput-server "
                             "init (atau pulihkan dari cadangan).") from exc
    identity = (status.st_ino, status.st_mtime_ns, status.st_size)
    with _lock:
        cached = _cache.get(path)
        if cached and cached[0] == identity:
            return cached[1]
    try:
        with path.open("rb") as handle:  # the identity of the file actually read
            opened = os.fstat(handle.fileno())
            document = json.loads(handle.read().decode("utf-8"))
    except FileNotFoundError as exc:  # removed meanwhile
        raise KeyRingMissing(f"Key ring kantor tidak ada di {path}. Jalankan jemput-server "
                             "init (atau pulihkan dari cadangan).") from exc
    ring = KeyRing.from_document(document)
    with _lock:
        _cache[path] = ((opened.st_ino, opened.st_mtime_ns, opened.st_size), ring)
    return ring


def current() -> KeyRing:
    """The current app's key ring."""
    return load(path_of(current_app))


def ensure(path: Path) -> tuple[KeyRing, bool]:
    """The ring in ``path``, made there (0600) when there is none; (ring, made now).

    A ring from before audit anchors or Suket keys gets the missing key, added under the ring's
    lock file so that two processes starting at once keep one and the same key."""
    if path.exists():
        ring = load(path)
        if ring.audit is None or ring.suket is None:
            with _locked(path):
                ring = load(path)  # as it is now that no one else is writing it
                before = ring
                if ring.audit is None:  # a ring from before audit anchors
                    audit = new_audit_key()
                    ring = dataclasses.replace(ring, audit_keys={audit.kid: audit},
                                               audit_current=audit.kid)
                if ring.suket is None:  # a ring from before Suket keys
                    suket = new_suket_key()
                    ring = dataclasses.replace(ring, suket_keys={suket.kid: suket},
                                               suket_current=suket.kid)
                if ring is not before:
                    _write(path, ring)
                    ring = load(path)
        return ring, False
    key, audit, suket = new_sealing_key(), new_audit_key(), new_suket_key()
    ring = KeyRing({key.kid: key}, key.kid, {audit.kid: audit}, audit.kid,
                   {suket.kid: suket}, suket.kid)
    if _write(path, ring, exclusive=True):
        return ring, True
    return ensure(path)[0], False  # another process made it meanwhile


def rotate(path: Path) -> SealingKey:
    """Add a new sealing key pair and make it current; the older ones stay to open old seals."""
    with _locked(path):
        ring = load(path)
        key = new_sealing_key()
        _write(path, dataclasses.replace(ring, keys={**ring.keys, key.kid: key},
                                         current=key.kid))
    return key


def rotate_suket(path: Path) -> SuketKey:
    """Add a new Suket key and make it the one new QR tokens carry; the older ones stay, so
    every printed QR code still verifies."""
    if load(path).suket is None:  # a ring from before Suket keys: its first one stays too
        ensure(path)
    with _locked(path):
        ring = load(path)
        key = new_suket_key(taken=ring.suket_keys)
        _write(path, dataclasses.replace(ring, suket_keys={**ring.suket_keys, key.kid: key},
                                         suket_current=key.kid))
    return key


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold the ring's lock file (``.<name>.lock`` beside it) while reading and rewriting it, so
    that two commands or starts never lose each other's keys."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = os.open(path.parent / f".{path.name}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield
    finally:
        os.close(handle)  # closing releases the lock


def _write(path: Path, ring: KeyRing, *, exclusive: bool = False) -> bool:
    """Write the ring atomically with mode 0600; with ``exclusive``, only if there is none."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=".keyring-")
    try:
        os.fchmod(handle, 0o600)
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(ring.document(), out, indent=1)
            out.flush()
            os.fsync(out.fileno())
        if exclusive:
            try:
                os.link(temp, path)  # fails when the ring appeared meanwhile
            except FileExistsError:
                return False
        else:
            os.replace(temp, path)
        return True
    finally:
        if os.path.exists(temp):
            os.unlink(temp)


def init_app(app: Flask) -> None:
    """Make the key ring on a fresh SQLite instance (its path is ``JEMPUT_KEYRING`` or the
    instance's); on PostgreSQL only ``jemput-server init`` makes it, and a server started
    without it refuses to start. An existing older ring gets its missing keys either way."""
    path = path_of(app)
    shared = str(app.config["SQLALCHEMY_DATABASE_URI"]).startswith("postgresql")
    if shared and not path.exists():
        if not _command_line():
            raise KeyRingMissing(
                f"Key ring kantor tidak ada di {path} (JEMPUT_KEYRING). Dengan PostgreSQL key "
                "ring dibagi semua server aplikasi: buat sekali dengan jemput-server init, "
                "lalu arahkan JEMPUT_KEYRING setiap host ke berkas yang sama.")
        return  # a command (init makes it; the others say it is missing when they need it)
    ensure(path)


def _command_line() -> bool:
    """Whether the app is being made for a ``jemput-server`` command other than ``run`` (Flask
    loads it to find the command); a server (gunicorn, ``run``, a test) is not."""
    context = click.get_current_context(silent=True)
    return context is not None and context.command.name != "run"
