"""The office key ring: the key pairs that open what the laptops seal.

One JSON file (mode 0600), ``<instance>/keyring.json`` unless ``JEMPUT_KEYRING`` names another
path every host can read. ``jemput-server init`` makes it (and so does the first start of an
app on a fresh SQLite instance); ``jemput-server rotate-key`` adds a new sealing key pair and
makes it the one laptops seal to, keeping the older ones so that what was sealed to them still
opens. The ring also holds the Ed25519 **audit key** that signs the audit chain's anchors
(``server.core.anchors``), apart from the sealing keys; a ring made before it existed gets one
the first time it is loaded by ``ensure``. Back the key ring up with the database: without it no
sealed record opens.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
class KeyRing:
    """Every sealing key pair the office ever had, the current one, and the audit keys."""

    keys: dict[str, SealingKey]
    current: str
    audit_keys: dict[str, AuditKey] = field(default_factory=dict)
    audit_current: str | None = None

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
        return cls(keys, document["current"], audit, audit_current)


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


def path_of(app: Flask) -> Path:
    """Where the app's key ring lives."""
    return Path(app.config.get("JEMPUT_KEYRING") or Path(app.instance_path) / FILE_NAME)


_lock = threading.Lock()
_cache: dict[Path, tuple[float, KeyRing]] = {}


def load(path: Path) -> KeyRing:
    """The ring in ``path`` (read again when the file changed, as after ``rotate-key``)."""
    try:
        mtime = path.stat().st_mtime
    except FileNotFoundError as exc:
        raise KeyRingMissing(f"Key ring kantor tidak ada di {path}. Jalankan jemput-server "
                             "init (atau pulihkan dari cadangan).") from exc
    with _lock:
        cached = _cache.get(path)
        if cached and cached[0] == mtime:
            return cached[1]
        ring = KeyRing.from_document(json.loads(path.read_text(encoding="utf-8")))
        _cache[path] = (mtime, ring)
        return ring


def current() -> KeyRing:
    """The current app's key ring."""
    return load(path_of(current_app))


def ensure(path: Path) -> tuple[KeyRing, bool]:
    """The ring in ``path``, made there (0600) when there is none; (ring, made now)."""
    if path.exists():
        ring = load(path)
        if ring.audit is None:  # a ring from before audit anchors: give it its audit key
            audit = new_audit_key()
            _write(path, KeyRing(ring.keys, ring.current, {audit.kid: audit}, audit.kid))
            ring = load(path)  # two processes at once: both go on with the one that stayed
        return ring, False
    key, audit = new_sealing_key(), new_audit_key()
    ring = KeyRing({key.kid: key}, key.kid, {audit.kid: audit}, audit.kid)
    if _write(path, ring, exclusive=True):
        return ring, True
    return load(path), False  # another process made it meanwhile


def rotate(path: Path) -> SealingKey:
    """Add a new sealing key pair and make it current; the older ones stay to open old seals."""
    ring = load(path)
    key = new_sealing_key()
    _write(path, KeyRing({**ring.keys, key.kid: key}, key.kid, ring.audit_keys,
                         ring.audit_current))
    return key


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
    """Make the key ring on a fresh instance; its path is ``JEMPUT_KEYRING`` or the instance's."""
    ensure(path_of(app))
