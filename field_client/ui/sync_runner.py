"""One sync at a time in the background, with progress the pages can poll.

The run belongs to the app process, not to a page: reloading the browser (or closing it) does
not stop or repeat it, and the next page load shows where it stands. The work itself is the
library's :meth:`FieldClient.sync`, the same as ``jemput-field sync``.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import asdict, dataclass, field
from typing import Any

from field_client.client import FieldClient, TransportFactory
from field_client.config import Settings
from field_client.errors import FieldClientError, NetworkUnavailable

log = logging.getLogger(__name__)


@dataclass
class SyncProgress:
    """Where the current (or last) run stands: records pushed and file bytes uploaded."""

    running: bool = False
    started_at: str | None = None
    finished_at: str | None = None
    records_done: int = 0
    records_total: int = 0
    bytes_done: int = 0
    bytes_total: int = 0
    ok: bool | None = None  # None while running or before the first run
    message: str | None = None  # the outcome in one sentence for the operator
    report: dict[str, Any] = field(default_factory=dict)


class SyncRunner:
    """Starts :meth:`FieldClient.sync` on a thread and keeps its progress for the pages."""

    def __init__(self, settings: Settings, transport_factory: TransportFactory | None) -> None:
        self._settings = settings
        self._transport_factory = transport_factory
        self._lock = threading.Lock()
        self._state = SyncProgress()
        self._thread: threading.Thread | None = None

    def start(self) -> bool:
        """Begin a run unless one is going; True when this call started it."""
        with self._lock:
            if self._state.running:
                return False
            self._state = SyncProgress(running=True, started_at=_now())
            self._thread = threading.Thread(target=self._run, name="jemput-ui-sync", daemon=True)
            self._thread.start()
            return True

    def snapshot(self) -> dict[str, Any]:
        """The progress as plain data."""
        with self._lock:
            return asdict(self._state)

    def wait(self, timeout: float | None = None) -> None:
        """Wait for the current run to end (tests and shutdown)."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _records(self, done: int, total: int) -> None:
        with self._lock:
            self._state.records_done, self._state.records_total = done, total

    def _bytes(self, done: int, total: int) -> None:
        with self._lock:
            self._state.bytes_done, self._state.bytes_total = done, total

    def _run(self) -> None:
        ok, message, report = False, None, {}
        try:
            with FieldClient(
                settings=self._settings, transport_factory=self._transport_factory
            ) as device:
                result = device.sync(progress=self._records, upload_progress=self._bytes)
            report = result.as_dict()
            # Nothing to send and the server unreachable is no success either.
            ok = report["pull_error"] is None or report["pushed"] > 0
            message = _outcome(report)
        except NetworkUnavailable as exc:
            message = f"Sinkronisasi terputus: {exc.message} Semua rekaman tetap aman di laptop."
            if exc.report is not None:
                report = exc.report.as_dict()
        except FieldClientError as exc:
            message = exc.message
        except Exception:  # the page must learn the run ended, whatever happened
            log.exception("sync from the web app failed")
            message = (
                "Sinkronisasi gagal karena kesalahan tak terduga; rekaman tetap aman di laptop. "
                "Coba lagi, dan bila berulang laporkan ke petugas teknis."
            )
        with self._lock:
            self._state.running = False
            self._state.finished_at = _now()
            self._state.ok = ok
            self._state.message = message
            self._state.report = report


def _outcome(report: dict[str, Any]) -> str:
    """The finished run in one sentence."""
    if report["pull_error"] and not report["pushed"]:
        return (
            f"Server tidak terjangkau: {report['pull_error']} Semua rekaman tetap aman di "
            "laptop; sinkronkan lagi saat ada sinyal."
        )
    parts = [f"{report['pushed']} rekaman dikirim"]
    if report["rejected"]:
        parts.append(f"{report['rejected']} ditolak (lihat alasannya di antrean)")
    if report["files_uploaded"]:
        parts.append(f"{report['files_uploaded']} berkas terunggah")
    if report["pulled"]:
        parts.append(f"{report['pulled']} kabar status dari kantor")
    text = "Sinkronisasi selesai: " + ", ".join(parts) + "."
    if not report["done"]:
        text += " Masih ada yang menunggu; sinkronkan lagi nanti."
    if report.get("pull_error"):
        text += f" Kabar dari kantor belum terambil: {report['pull_error']}"
    return text


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
