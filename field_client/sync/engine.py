"""The sync engine: push the outbox in seq order, upload the files the server lacks, then pull
status changes and outreach target lists, exactly once (protocol 2: every record and file goes
sealed to the office key; what comes back for the operator comes under the device's data key).

A record leaves ``ready`` only on the server's explicit per-record answer, and every batch's
answer is applied in one outbox transaction, together with the files the server says it still
lacks (``missing_blobs``: upload rows ``needed``). Those are sent by
:mod:`field_client.sync.uploads` (tus, resumable). A record stays ``sent`` until the server says
``complete`` (pull feed, or a push answer without missing files). Anything unclear (timeout, cut
connection, 5xx, malformed answer) stops the run with everything kept, to be sent again later:
the server stores a record and a file once however often they arrive.

Some answers look final but are not, and keep the record ``ready`` with a note (``held_back``):
a 413 for a record sent alone (a server or proxy size limit said it, not a verdict on the
record), ``unknown_key`` (the office's key ring lacks the key it is sealed to) and
``hash_mismatch`` / ``sealed_invalid`` while the sealed copy on this device is intact (the bytes
were damaged on the way). Only a copy damaged on this device is marked rejected for that reason.

A queue an older version kept in clear is sealed first (``sync.upgrade``): no sync before.

The pull feed also assigns outreach visits (the target list is fetched and stored whole, or the
cursor stays before the assignment) and closes them (the list is deleted from the device).
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import json
import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from field_client.config import Settings
from field_client.errors import (
    FieldClientError,
    NetworkUnavailable,
    PayloadTooLarge,
    StorageError,
    SyncBusy,
)
from field_client.store import records, targets, upload_rows
from field_client.store.outbox import Outbox
from field_client.store.records import PendingRecord
from field_client.sync import upgrade
from field_client.sync.device_profile import fetch_profile
from field_client.sync.report import SyncReport
from field_client.sync.transport import Transport
from field_client.sync.uploads import ByteProgress, Uploader, UploadTally
from shared.canonical import canonical_json
from shared.protocol import (
    CLIENT_STATE_FOR_SERVER_STATE,
    HELD_RECORD_ERRORS,
    MAX_PULL_CHANGES,
    ChangeKind,
    ClientState,
    PushStatus,
    RecordError,
)
from shared.sealing import b64, unb64

log = logging.getLogger(__name__)

#: ``progress(done, total)``: records handled so far out of those ready when the push began.
ProgressCallback = Callable[[int, int], None]
TOO_LARGE = "too_large"  # noted on a record still ready: a 413 even when sent alone
HASH_MISMATCH = RecordError.HASH_MISMATCH.value
UNKNOWN_KEY = RecordError.UNKNOWN_KEY.value
_MAX_PULL_PAGES = 10_000  # a server that always says "more" must not keep us here forever
_CONFIRMED = tuple(state.value for state in records.CONFIRMED_COMPLETE)



@contextmanager
def sync_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive, non-blocking lock on ``path`` for one sync run."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise StorageError(f"Berkas kunci {path} tidak dapat dibuat: {exc.strerror}.") from exc
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SyncBusy(
                "Sinkronisasi lain sedang berjalan untuk folder ini (misalnya 'jemput-field "
                "watch'). Tunggu sampai selesai, atau hentikan yang lain dulu."
            ) from None
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock, also after a crash


class SyncEngine:
    """Push, upload, then pull, for one outbox and one server connection."""

    def __init__(
        self,
        outbox: Outbox,
        transport: Transport,
        settings: Settings,
        today: Callable[[], dt.date] = dt.date.today,
    ) -> None:
        self.outbox = outbox
        self.transport = transport
        self.settings = settings
        self.today = today  # the local clock's date: target lists of finished visits go

    def run_once(
        self,
        progress: ProgressCallback | None = None,
        upload_progress: ByteProgress | None = None,
    ) -> SyncReport:
        """One full sync; raise :class:`NetworkUnavailable` (with ``.report``) if the link fails."""
        report = SyncReport()
        with sync_lock(self.settings.lock_path):
            try:
                upgrade.ensure(self.outbox, self.transport, self.settings, report)
                self._purge_finished_visits(report)
                self._push_all(report, progress)
                self._upload_all(report, upload_progress)
                try:
                    self._pull_all(report)
                except NetworkUnavailable as exc:  # everything was sent: only a warning
                    report.pull_error = exc.message
                self._fetch_profile(report)
                self._purge_finished_visits(report)  # a list that came for a visit now over
            except FieldClientError as exc:
                self._finish(report, error=exc.message, quiet=True)
                if isinstance(exc, NetworkUnavailable):
                    exc.report = report
                raise
            self._finish(report, error=report.pull_error)
        return report

    # -- push -------------------------------------------------------------------------------

    def _push_all(self, report: SyncReport, progress: ProgressCallback | None) -> None:
        total = records.count_state(self.outbox, ClientState.READY)
        done, after_seq, size = 0, 0, self.settings.batch_size
        if progress:
            progress(0, total)
        while batch := records.ready_batch(self.outbox, after_seq, size):
            try:
                answer = self.transport.push(request_body(batch))
            except PayloadTooLarge as exc:
                if len(batch) > 1:
                    size = max(1, len(batch) // 2)  # try again with half as many
                    continue
                # Alone and still too large: a size limit (the server's, or a proxy's) spoke,
                # not the server about this record. Keep it ready and let the others go.
                self._hold_too_large(batch[0], exc, report)
            else:
                self._apply_push(batch, answer, report)
            # Move past the batch even where records went unanswered or were held back, so one
            # odd record cannot hold the run in a loop; it stays ready for the next run.
            after_seq = batch[-1].seq
            done += len(batch)
            if progress:
                progress(done, max(total, done))

    def _apply_push(
        self, batch: list[PendingRecord], answer: dict[str, Any], report: SyncReport
    ) -> None:
        results = {r["id"]: r for r in answer["results"] if isinstance(r.get("id"), str)}
        now = records.utc_now()
        with self.outbox.atomic():
            for pending in batch:
                result = results.get(pending.id)
                if result is None:
                    report.unanswered += 1
                    log.warning("record seq %d missing from the push answer", pending.seq)
                    continue
                self._apply_result(pending, result, now, report)
            self._store_progress(answer["device"], report)
        report.pushed += len(batch)

    def _apply_result(
        self, pending: PendingRecord, result: dict[str, Any], now: str, report: SyncReport
    ) -> None:
        server_state = result.get("state")
        if result["status"] == PushStatus.REJECTED:
            code, message = _rejection(result.get("errors"))
            if code in HELD_RECORD_ERRORS:
                if code == UNKNOWN_KEY or self._body_intact(pending):
                    self._hold(pending, code, message, now, report)
                    return
                message = (
                    "Salinan rekaman di perangkat ini sendiri rusak: isinya tidak lagi cocok "
                    "dengan sidik SHA-256 yang dicatat saat disimpan, jadi mengirim ulang tidak "
                    "akan menolong. Rekam ulang penduduk ini dan laporkan ke petugas teknis "
                    f"(disk mungkin bermasalah). Jawaban server: {message}"
                )
            records.mark_rejected(self.outbox, pending.id, code, message, server_state, now)
            # A refused fix: the record it corrects needs fixing again (nothing superseded it).
            refused = f"Perbaikan seq {pending.seq} ditolak server: {message}"
            records.reopen_after_refused_fix(self.outbox, pending.id, refused, now)
            report.rejected += 1
            report.rejections.append(
                {"id": pending.id, "seq": pending.seq, "code": code, "message": message}
            )
            return
        # "duplicate" means the server already stored exactly this record: same as accepted.
        state = _state_after_push(result)
        records.mark_answered(self.outbox, pending.id, state, server_state, now)
        upload_rows.mark_needed(self.outbox, pending.id, result.get("missing_blobs") or (), now)
        if result["status"] == PushStatus.DUPLICATE:
            report.duplicate += 1
        else:
            report.accepted += 1

    def _store_progress(self, device: dict[str, Any], report: SyncReport) -> None:
        report.last_seq = device["last_seq"]
        report.gaps = [list(gap) for gap in device["gaps"]]
        self.outbox.set_meta("server_last_seq", device["last_seq"])
        self.outbox.set_meta("server_received", device["received"])
        self.outbox.set_meta("gaps", json.dumps(report.gaps))

    def _hold_too_large(
        self, pending: PendingRecord, exc: PayloadTooLarge, report: SyncReport
    ) -> None:
        message = (
            "Rekaman ini terlalu besar untuk batas ukuran kiriman server atau proxy di depannya "
            "(HTTP 413), bahkan dikirim sendiri. Rekaman TIDAK ditolak: tetap di antrean (siap "
            "kirim) dan dicoba lagi pada sinkron berikutnya. Minta petugas teknis menaikkan "
            "batas ukuran kiriman di server/proxy."
        )
        log.warning("record seq %d is too large even alone: %s", pending.seq, exc.message)
        with self.outbox.atomic():
            records.note_problem(self.outbox, pending.id, TOO_LARGE, message, records.utc_now())
        self._held(pending, TOO_LARGE, message, report)

    def _hold(
        self, pending: PendingRecord, code: str, server_message: str, now: str,
        report: SyncReport,
    ) -> None:
        if code == UNKNOWN_KEY:
            message = (
                "Server tidak dapat membuka rekaman ini: kunci kantor yang dipakai untuk "
                f"menyegelnya ({pending.key_id}) tidak ada di server (unknown_key). Rekaman "
                "TIDAK ditolak: tetap tersegel di antrean dan dikirim ulang pada sinkron "
                "berikutnya. Laporkan ke petugas teknis (key ring kantor). "
                f"Jawaban server: {server_message}"
            )
        else:
            message = (
                f"Server menerima rekaman ini tidak utuh ({code}), padahal salinan tersegel di "
                "perangkat masih utuh: kemungkinan rusak di perjalanan. Rekaman TIDAK ditolak: "
                "tetap di antrean dan dikirim ulang pada sinkron berikutnya. "
                f"Jawaban server: {server_message}"
            )
        log.warning("record seq %d held back (%s); kept ready", pending.seq, code)
        records.note_problem(self.outbox, pending.id, code, message, now)
        self._held(pending, code, message, report)

    @staticmethod
    def _held(pending: PendingRecord, code: str, message: str, report: SyncReport) -> None:
        report.unanswered += 1
        report.held_back.append(
            {"id": pending.id, "seq": pending.seq, "code": code, "message": message}
        )

    def _body_intact(self, pending: PendingRecord) -> bool:
        """Whether the sealed copy still hashes to the ``sealed_sha256`` noted when it was
        saved (the laptop cannot open it, but it can tell it is the same bytes)."""
        return hashlib.sha256(pending.sealed).hexdigest() == pending.sealed_sha256

    # -- upload -----------------------------------------------------------------------------

    def _upload_all(self, report: SyncReport, progress: ByteProgress | None) -> None:
        tally = UploadTally()
        try:
            Uploader(self.outbox, self.transport, self.settings, progress).run(tally)
        finally:  # also when the link failed: what did go is reported
            report.files_uploaded = tally.uploaded
            report.bytes_uploaded = tally.bytes_sent
            report.files_failed = tally.failed

    def _purge_finished_visits(self, report: SyncReport) -> None:
        report.visits_removed += targets.purge_expired(self.outbox, self.today())

    # -- pull -------------------------------------------------------------------------------

    def _pull_all(self, report: SyncReport) -> None:
        cursor = int(self.outbox.get_meta("pull_cursor", "0") or 0)
        try:
            for _ in range(_MAX_PULL_PAGES):
                page = self.transport.pull(cursor, MAX_PULL_CHANGES)
                # Target lists are fetched before the page is applied (no write lock held over
                # the network). If one cannot be fetched, the changes before it are applied and
                # the cursor stays just before it: the next sync asks again, nothing half-stored.
                failures = self._fetch_failures()
                fetched = targets.fetch_assigned(
                    page["changes"], self.transport.targets, failures
                )
                report.visits_refused.extend(fetched.refused)
                lists, failure = fetched.lists, fetched.failure
                changes = page["changes"][: fetched.usable]
                now = records.utc_now()
                # The new cursor is saved with the changes it covers: a crash repeats a page,
                # never skips one (applying a status twice is harmless).
                with self.outbox.atomic():
                    for change in changes:
                        report.pulled += int(self._apply_change(change, lists, report, now))
                    # Complete on the server means it holds every file: nothing left to upload.
                    upload_rows.settle_confirmed(self.outbox, _CONFIRMED, now)
                    if fetched.failures != failures:
                        self.outbox.set_meta(
                            targets.FETCH_FAILURES_META,
                            json.dumps(fetched.failures, sort_keys=True)
                            if fetched.failures
                            else None,
                        )
                    if failure is None:
                        self.outbox.set_meta("pull_cursor", page["cursor"])
                    elif changes:
                        self.outbox.set_meta("pull_cursor", changes[-1]["cursor"])
                if failure is not None:
                    raise failure
                if not page["more"] or page["cursor"] == cursor:
                    return
                cursor = page["cursor"]
        finally:
            if report.visits_removed:  # deleted target lists must not linger in the WAL
                self.outbox.checkpoint()

    def _fetch_profile(self, report: SyncReport) -> None:
        """Fetch the device profile when it changed and store it; a failure is only a warning."""
        fetch_profile(self.outbox, self.transport, report)

    def _fetch_failures(self) -> dict[str, int]:
        """Failed syncs in a row per visit whose target list could not be fetched."""
        try:
            stored = json.loads(self.outbox.get_meta(targets.FETCH_FAILURES_META) or "{}")
        except ValueError:
            return {}
        if not isinstance(stored, dict):
            return {}
        return {str(k): v for k, v in stored.items() if isinstance(v, int)}

    def _apply_change(
        self,
        change: dict[str, Any],
        lists: dict[str, dict[str, Any] | None],
        report: SyncReport,
        now: str,
    ) -> bool:
        """Apply one feed entry; True when it changed a record's status."""
        kind, visit_id = change["kind"], change.get("visit_id")
        if kind in (ChangeKind.OUTREACH_ASSIGNED, ChangeKind.OUTREACH_CLOSED) and visit_id:
            answer = lists.get(visit_id) if kind == ChangeKind.OUTREACH_ASSIGNED else None
            if answer is not None:
                report.targets_received += targets.store_visit(self.outbox, answer, now)
                report.visits_received += 1
            elif targets.drop_visit(self.outbox, visit_id):
                report.visits_removed += 1
            return False
        if kind != ChangeKind.RECORD_STATUS or not change.get("record_id"):
            return False  # kinds this version does not know yet are skipped, not fatal
        server_state = change.get("state") or ""
        state = CLIENT_STATE_FOR_SERVER_STATE.get(server_state)
        if state is None:
            log.warning("unknown server state %r for record %s", server_state, change["record_id"])
            return False
        returned = change.get("sealed")
        try:
            box = unb64(returned) if returned else None
        except ValueError:
            log.warning("feed entry for record %s carries a box that is not base64",
                        change["record_id"])
            box = None
        return records.apply_status(
            self.outbox, change["record_id"], state, server_state, box, now, change.get("at"),
        )

    def _finish(self, report: SyncReport, error: str | None, quiet: bool = False) -> None:
        """Count what is left and note the outcome; ``quiet`` when another error is on its way.

        Held-back records are noted as the last sync problem, without making the run failed.
        """
        try:
            report.remaining = records.count_state(self.outbox, ClientState.READY)
            report.waiting_for_files = records.count_state(self.outbox, ClientState.SENT)
            report.files_waiting = upload_rows.summary(self.outbox)["waiting"]
            with self.outbox.atomic():
                if error is None:
                    self.outbox.set_meta("last_sync_at", records.utc_now())
                self.outbox.set_meta("last_sync_attempt_at", records.utc_now())
                self.outbox.set_meta("last_sync_error", error or held_note(report))
        except FieldClientError:
            if not quiet:
                raise
            log.exception("could not note the failed sync in the outbox")


def request_body(batch: list[PendingRecord]) -> bytes:
    """The push body: each record's envelope (``shared.schemas.SealedRecordSchema``), built
    from the stored sealed bytes so every record goes out byte-identical."""
    return canonical_json({"records": [
        {"id": p.id, "seq": p.seq, "key_id": p.key_id, "sealed": b64(p.sealed)} for p in batch
    ]})


def held_note(report: SyncReport) -> str | None:
    """One line for the operator about records kept ready with a reason, or None."""
    if not report.held_back:
        return None
    seqs = ", ".join(str(item["seq"]) for item in report.held_back)
    return (
        f"{len(report.held_back)} rekaman tetap di antrean tanpa jawaban akhir server (seq "
        f"{seqs}); alasannya: jemput-field records --state ready."
    )


def _state_after_push(result: dict[str, Any]) -> str:
    if result.get("missing_blobs"):
        return ClientState.SENT  # the server has the record but still waits for files
    mapped = CLIENT_STATE_FOR_SERVER_STATE.get(result.get("state") or "")
    return mapped or ClientState.SENT


def _rejection(errors: dict[str, Any] | None) -> tuple[str, str]:
    if not errors:
        return "rejected", "Ditolak server tanpa keterangan."
    code = str(errors.get("code") or "rejected")
    message = str(errors.get("message") or "Ditolak server.")
    details = errors.get("fields")
    if isinstance(details, dict) and details:
        parts = [f"{name}: {_text(texts)}" for name, texts in details.items()]
        message = f"{message} ({'; '.join(parts)})"
    return code, message


def _text(texts: Any) -> str:
    if isinstance(texts, list | tuple):
        return " ".join(str(t) for t in texts)
    return str(texts)
