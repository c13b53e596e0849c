"""Configuration: the only module that reads the environment."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import secrets
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import Flask

from server.core.timeutil import DEFAULT_OFFICE_TIMEZONE
from shared.pin import KDF_COST, TEST_KDF_COST, check_cost

DEFAULT_MAX_REQUEST_BYTES = 16 * 1024 * 1024
DEFAULT_UPLOAD_EXPIRY_HOURS = 24.0
OFFICE_SESSION_HOURS = 8
#: A province's resident file (5.5 million rows, about 0.8 GB) fits with room to spare.
DEFAULT_IMPORT_MAX_BYTES = 4 * 1024**3
SECRET_KEY_FILE = "secret_key"
DEFAULT_OFFICE_IDLE_MINUTES = 30
OFFICE_IDLE_MINUTES_RANGE = (1, 480)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def instance_path() -> str | None:
    """The instance folder from ``JEMPUT_INSTANCE_PATH``, absolute, or None for Flask's default."""
    value = os.environ.get("JEMPUT_INSTANCE_PATH")
    return os.path.abspath(value) if value else None


def load(app: Flask, overrides: Mapping[str, Any] | None = None) -> None:
    """Fill ``app.config`` from the environment, then apply ``overrides`` (tests)."""
    instance = Path(app.instance_path)
    instance.mkdir(parents=True, exist_ok=True)
    env = os.environ
    test_kdf = env.get("JEMPUT_TEST_KDF") == "1"
    settings: dict[str, Any] = {
        "SQLALCHEMY_DATABASE_URI": env.get("JEMPUT_DATABASE_URL")
        or f"sqlite:///{instance / 'jemput.db'}",
        "JEMPUT_BLOB_DIR": env.get("JEMPUT_BLOB_DIR") or str(instance / "blobs"),
        # Where files go instead: s3://BUCKET/PREFIX (an S3-compatible service at
        # JEMPUT_S3_ENDPOINT_URL, AWS' own when unset; boto3's AWS_* variables give the
        # credentials) or file:///path (a folder, as JEMPUT_BLOB_DIR).
        "JEMPUT_BLOB_URL": env.get("JEMPUT_BLOB_URL") or None,
        "JEMPUT_S3_ENDPOINT_URL": env.get("JEMPUT_S3_ENDPOINT_URL") or None,
        "SECRET_KEY": env.get("JEMPUT_SECRET_KEY"),
        "MAX_CONTENT_LENGTH": int(env.get("JEMPUT_MAX_REQUEST_BYTES") or DEFAULT_MAX_REQUEST_BYTES),
        "JEMPUT_LOG_LEVEL": env.get("JEMPUT_LOG_LEVEL") or "INFO",
        # Partial uploads untouched this long are refused (410) and their bytes deleted.
        "JEMPUT_UPLOAD_EXPIRY_HOURS": float(
            env.get("JEMPUT_UPLOAD_EXPIRY_HOURS") or DEFAULT_UPLOAD_EXPIRY_HOURS
        ),
        # Per device: unfinished uploads open at once, and their declared bytes (429 beyond);
        # a partial that received no byte this long expires; uploads are refused (507) while
        # the blob folder's free space, less the bytes to come, is below JEMPUT_MIN_FREE_BYTES.
        "JEMPUT_UPLOAD_MAX_OPEN": int(env.get("JEMPUT_UPLOAD_MAX_OPEN") or 64),
        "JEMPUT_UPLOAD_MAX_OPEN_BYTES": int(env.get("JEMPUT_UPLOAD_MAX_OPEN_BYTES") or 256 * 2**20),
        "JEMPUT_UPLOAD_IDLE_HOURS": float(env.get("JEMPUT_UPLOAD_IDLE_HOURS") or 2.0),
        "JEMPUT_MIN_FREE_BYTES": int(env.get("JEMPUT_MIN_FREE_BYTES") or 2**30),
        # The office session cookie only over HTTPS; JEMPUT_SECURE_COOKIES=0 for plain-HTTP setups.
        "SESSION_COOKIE_SECURE": (env.get("JEMPUT_SECURE_COOKIES") or "1").lower()
        not in ("0", "false", "no"),
        # The office's session: its own cookie name, not sent cross-site, 8 hours at most.
        "SESSION_COOKIE_NAME": "jemput_office",
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "PERMANENT_SESSION_LIFETIME": dt.timedelta(hours=OFFICE_SESSION_HOURS),
        # Reference data imports (regions, population) refuse larger files up front.
        "JEMPUT_IMPORT_MAX_BYTES": int(
            env.get("JEMPUT_IMPORT_MAX_BYTES") or DEFAULT_IMPORT_MAX_BYTES
        ),
        # The Suket's QR code points at <this>/verify/<token> (else the request's host URL), and
        # the name under the Kepala Dinas signature block (else a dotted line to write on).
        "JEMPUT_PUBLIC_URL": env.get("JEMPUT_PUBLIC_URL") or None,
        "JEMPUT_SUKET_SIGNER": env.get("JEMPUT_SUKET_SIGNER") or None,
        # The office key ring (sealing, audit, Suket keys): a path every app host can read;
        # required on PostgreSQL (made by `init`); on SQLite by default a file in the instance
        # folder, made by `init` or the first start.
        "JEMPUT_KEYRING": env.get("JEMPUT_KEYRING") or None,
        # The office's time zone: every time a person reads (Asia/Pontianak = WIB; Asia/Makassar
        # = WITA, Asia/Jayapura = WIT) and the office's calendar day.
        "JEMPUT_OFFICE_TIMEZONE": office_timezone(env.get("JEMPUT_OFFICE_TIMEZONE")),
        # Argon2id cost of the keys new operator PINs derive (shared.pin): the laptops derive
        # the same. JEMPUT_TEST_KDF=1 lowers it for test installations only.
        "PIN_KDF_COST": TEST_KDF_COST if test_kdf else KDF_COST,
        # The reverse proxies whose X-Forwarded-For/-Proto/-Host/-Port are believed (IPs or
        # CIDRs); empty: no forwarded header is believed, the socket's address is the client.
        "JEMPUT_TRUSTED_PROXIES": env.get("JEMPUT_TRUSTED_PROXIES") or "",
        # An office session unused this long ends (minutes).
        "JEMPUT_OFFICE_IDLE_MINUTES": bounded_int(
            "JEMPUT_OFFICE_IDLE_MINUTES", env.get("JEMPUT_OFFICE_IDLE_MINUTES"),
            DEFAULT_OFFICE_IDLE_MINUTES, *OFFICE_IDLE_MINUTES_RANGE,
        ),
        # A device token unused this long expires (days): it may still push its queue.
        "JEMPUT_DEVICE_TOKEN_IDLE_DAYS": bounded_int(
            "JEMPUT_DEVICE_TOKEN_IDLE_DAYS", env.get("JEMPUT_DEVICE_TOKEN_IDLE_DAYS"), 90, 1, 3650,
        ),
        # Who runs background jobs: "worker" (jemput-server worker processes), "thread" (a
        # thread in each server process) or "inline" (right after the request's commit);
        # by default worker on PostgreSQL, thread on SQLite.
        "JEMPUT_JOBS": env.get("JEMPUT_JOBS") or None,
        # A running job whose worker stopped beating this long is run again (seconds).
        "JEMPUT_JOB_LEASE_SECONDS": seconds(env, "JEMPUT_JOB_LEASE_SECONDS", 30),
        # An idle worker looks for due jobs this often (seconds).
        "JEMPUT_JOB_POLL_SECONDS": seconds(env, "JEMPUT_JOB_POLL_SECONDS", 1),
        # The coverage summary's refreshes wait this long after the last (None: 60 s, or none
        # when jobs run inline).
        "JEMPUT_COVERAGE_REFRESH_SECONDS": (
            seconds(env, "JEMPUT_COVERAGE_REFRESH_SECONDS", 60)
            if env.get("JEMPUT_COVERAGE_REFRESH_SECONDS") else None),
        # Every lock wait is bounded: in requests (then 503 busy) and in jobs (then retried).
        "JEMPUT_LOCK_TIMEOUT_SECONDS": seconds(env, "JEMPUT_LOCK_TIMEOUT_SECONDS", 10),
        "JEMPUT_JOB_LOCK_TIMEOUT_SECONDS": seconds(env, "JEMPUT_JOB_LOCK_TIMEOUT_SECONDS", 120),
    }
    settings.update(overrides or {})
    settings["JEMPUT_TRUSTED_PROXIES"] = trusted_proxies(settings["JEMPUT_TRUSTED_PROXIES"])
    # A production configuration never derives PIN keys cheaper than shared.pin.KDF_COST.
    check_cost(settings["PIN_KDF_COST"], allow_test=bool(settings.get("TESTING")) or test_kdf)
    settings["SQLALCHEMY_DATABASE_URI"] = normalise_database_url(
        settings["SQLALCHEMY_DATABASE_URI"]
    )
    postgres = settings["SQLALCHEMY_DATABASE_URI"].startswith("postgresql")
    if postgres:
        require_shared(settings)
    settings["JEMPUT_JOBS"] = jobs_mode(settings["JEMPUT_JOBS"], postgres)
    if not settings.get("SECRET_KEY"):
        settings["SECRET_KEY"] = stored_secret_key(instance)
    settings.setdefault("SQLALCHEMY_ENGINE_OPTIONS", engine_options(
        settings["SQLALCHEMY_DATABASE_URI"], settings["JEMPUT_LOCK_TIMEOUT_SECONDS"]))
    app.config.from_mapping(settings)


def require_shared(settings: Mapping[str, Any]) -> None:
    """On PostgreSQL every app host must share the secret key and the key ring: a host with
    its own (made in its instance folder) would not know the others' sessions and keys."""
    if not settings.get("SECRET_KEY"):
        raise ValueError(
            "JEMPUT_SECRET_KEY wajib diisi bila basis data PostgreSQL: setiap server aplikasi "
            "memakai kunci yang sama (buat sekali, mis. python -c 'import secrets; "
            "print(secrets.token_hex(32))', lalu pasang di setiap host).")
    if not settings.get("JEMPUT_KEYRING"):
        raise ValueError(
            "JEMPUT_KEYRING wajib diisi bila basis data PostgreSQL: jalur key ring kantor yang "
            "dapat dibaca setiap server aplikasi (dibuat sekali oleh jemput-server init).")


def office_timezone(name: str | None) -> str:
    """An IANA zone name for the office (default Asia/Pontianak); an unknown one stops start-up."""
    chosen = (name or "").strip() or DEFAULT_OFFICE_TIMEZONE
    try:
        ZoneInfo(chosen)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"JEMPUT_OFFICE_TIMEZONE '{chosen}' is not a time zone this machine "
                         "knows (e.g. Asia/Pontianak, Asia/Makassar, Asia/Jayapura).") from exc
    return chosen


def bounded_int(name: str, text: str | None, default: int, low: int, high: int) -> int:
    """An integer setting within ``low..high`` (``default`` when unset); else stop at start."""
    if text is None or not text.strip():
        return default
    try:
        value = int(text.strip())
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        raise ValueError(f"{name} '{text}' is not a whole number from {low} to {high}.")
    return value


def seconds(env: Mapping[str, str], name: str, default: float) -> float:
    """A duration setting in seconds, from 0.05 to a day (``default`` when unset); else stop at
    start with a message naming the variable."""
    text = (env.get(name) or "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.05 <= value <= 86400:
        raise ValueError(f"{name} '{text}' is not a number of seconds from 0.05 to 86400.")
    return value


def trusted_proxies(value: str | Iterable[str | Network]) -> tuple[Network, ...]:
    """The reverse proxies' networks from a comma-separated list of IPs and CIDRs (an empty
    one trusts no proxy); an entry that is neither stops start-up."""
    entries = value.split(",") if isinstance(value, str) else value
    networks: list[Network] = []
    for entry in entries:
        if not isinstance(entry, str):
            networks.append(entry)
            continue
        if not entry.strip():
            continue
        try:
            networks.append(ipaddress.ip_network(entry.strip()))
        except ValueError as exc:
            raise ValueError(f"JEMPUT_TRUSTED_PROXIES: '{entry.strip()}' is not an IP address "
                             "or network (e.g. 127.0.0.1, 10.0.0.0/24, ::1).") from exc
    return tuple(networks)


def normalise_database_url(url: str) -> str:
    """Point bare PostgreSQL URLs at psycopg 3, the driver this project installs."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def jobs_mode(value: str | None, postgres: bool) -> str:
    """``JEMPUT_JOBS``: worker, thread or inline (default: worker on PostgreSQL, else thread)."""
    chosen = (value or "").strip().lower() or ("worker" if postgres else "thread")
    if chosen not in ("worker", "thread", "inline"):
        raise ValueError(f"JEMPUT_JOBS '{value}': expected worker, thread or inline.")
    return chosen


def engine_options(url: str, lock_timeout: float = 10.0) -> dict[str, Any]:
    """Engine options per backend (SQLite pragmas are set by a connect listener instead)."""
    # Database errors must not carry statement parameters (residents' data) into the logs.
    options: dict[str, Any] = {"hide_parameters": True}
    if url.startswith("postgresql"):
        # A server restart or an idle timeout must not turn into a failed request.
        options["pool_pre_ping"] = True
        # No statement waits on a lock for longer than this (jobs set their own per job).
        options["connect_args"] = {"options": f"-c lock_timeout={int(lock_timeout * 1000)}"}
    return options


def stored_secret_key(instance: Path) -> str:
    """The secret key kept in the instance folder, created (mode 0600) the first time."""
    path = instance / SECRET_KEY_FILE
    if not path.exists():
        fd, scratch = tempfile.mkstemp(dir=instance, prefix=".secret_key.")
        try:
            os.fchmod(fd, 0o600)
            os.write(fd, secrets.token_hex(32).encode())
            os.fsync(fd)
            os.close(fd)
            # link() refuses to replace: when two workers start at once, the first key wins.
            os.link(scratch, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(scratch)
    return path.read_text().strip()
