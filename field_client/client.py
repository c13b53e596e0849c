"""``FieldClient``: the library facade over one device home (outbox, files, registration).

Saving, fixing, importing, drafts and target lists need the device's data key, which only an
operator's PIN unwraps (:meth:`FieldClient.login`); the methods take it as ``data_key``.
Syncing, the status and purging need no key: what they handle is sealed or in clear by design.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import random
import socket
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from field_client.capture import drafts, fixes, importer, login, nik_check
from field_client.capture import record as capture
from field_client.capture.drafts import Draft
from field_client.config import Settings, load_settings
from field_client.errors import (
    AlreadyRegistered,
    FieldClientError,
    NotRegistered,
    OutboxBusy,
    UsageInvalid,
)
from field_client.store import blobs, keys, profile, records, retention, targets, upload_rows
from field_client.store.outbox import Outbox, open_outbox
from field_client.sync import upgrade
from field_client.sync.device_profile import fetch_profile
from field_client.sync.engine import ProgressCallback, SyncEngine
from field_client.sync.report import SyncReport
from field_client.sync.transport import Transport, normalize_server_url
from field_client.sync.uploads import ByteProgress
from field_client.sync.watch import Backoff, CycleCallback, Probe, WatchSummary, watch
from shared.protocol import PROTOCOL_VERSION
from shared.sealing import fingerprint, unb64

log = logging.getLogger(__name__)

TransportFactory = Callable[[str, Settings, str | None], Transport]


@dataclass(frozen=True)
class Registration:
    """The device's identity on a server (the token stays inside the outbox)."""

    server_url: str
    device_id: str
    team: str
    name: str
    server_time: str
    protocol_version: int
    #: The office key's fingerprint, to compare with what ``jemput-server device-code`` printed.
    office_key_fingerprint: str


class FieldClient:
    """Capture, queue and sync enrollments on one device; safe to use fully offline."""

    def __init__(
        self,
        home: Path | str | None = None,
        *,
        settings: Settings | None = None,
        transport_factory: TransportFactory | None = None,
        today: Callable[[], dt.date] = dt.date.today,
    ) -> None:
        self.settings = settings or load_settings(home)
        self.outbox: Outbox = open_outbox(self.settings.outbox_path)
        self._transport_factory = transport_factory or _default_transport
        self._today = today
        try:
            # Target lists of visits that are over, and drafts left unsaved for 72 hours, leave
            # the device on every open, too.
            targets.purge_expired(self.outbox, today())
            drafts.expire(self.outbox, self.settings.drafts_dir)
        except OutboxBusy:  # a sync holds the outbox: it purges them itself
            log.warning("outbox busy: finished visits are removed on the next open or sync")
        except BaseException:
            self.outbox.close()
            raise

    @property
    def home(self) -> Path:
        """The folder holding the outbox and the biometric files."""
        return self.settings.home

    def close(self) -> None:
        """Close the outbox."""
        self.outbox.close()

    def __enter__(self) -> FieldClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- registration -----------------------------------------------------------------------

    def register(
        self, server_url: str, code: str, name: str | None = None, *, force: bool = False
    ) -> Registration:
        """Register this device with a one-time code; refuse a second time unless ``force``."""
        url = normalize_server_url(server_url)
        current = self.outbox.meta()
        if current.get("token") and not force:
            raise AlreadyRegistered(
                f"Perangkat ini sudah terdaftar di {current.get('server_url')} sebagai "
                f"{current.get('device_name')} (tim {current.get('team')}). Pakai --force "
                "untuk mendaftar ulang."
            )
        device_name = (name or socket.gethostname() or "perangkat")[:80]
        # The token held before goes only to the server that issued it: there it proves this
        # is the same laptop (its uploads count for the new registration).
        previous = current.get("token") if current.get("server_url") == url else None
        with self._transport_factory(url, self.settings, None) as transport:
            answer = transport.register(
                code.strip(), device_name, records.first_unsent_seq(self.outbox), previous
            )
        if answer["protocol_version"] != PROTOCOL_VERSION:
            log.warning(
                "server protocol %s, client %s", answer["protocol_version"], PROTOCOL_VERSION
            )
        self._store_registration(url, answer)
        self._first_profile(url, answer["token"])
        return Registration(
            server_url=url,
            office_key_fingerprint=fingerprint(unb64(answer["office_key"]["public"])),
            device_id=answer["device_id"],
            team=answer["team"],
            name=answer["name"],
            server_time=answer["server_time"],
            protocol_version=answer["protocol_version"],
        )

    def _first_profile(self, url: str, token: str) -> None:
        """Fetch the operators and desa right away, best effort: the registration stands."""
        try:
            with self._transport_factory(url, self.settings, token) as transport:
                fetch_profile(self.outbox, transport)
        except FieldClientError as exc:
            log.warning("device profile not fetched after registering: %s", exc.message)

    def _store_registration(self, url: str, answer: dict[str, Any]) -> None:
        with self.outbox.atomic():
            for key, value in (
                ("server_url", url),
                ("device_id", answer["device_id"]),
                ("token", answer["token"]),
                ("team", answer["team"]),
                ("device_name", answer["name"]),
                ("registered_at", records.utc_now()),
                # The office key records and files are sealed to (checked by the operator
                # against the fingerprint the office read out with the registration code).
                ("office_key_id", answer["office_key"]["kid"]),
                ("office_key", answer["office_key"]["public"]),
                # A new registration is a new device on the server: its own feed and seq view.
                # Sequence numbers are NOT reset: they are never reused on this outbox.
                ("pull_cursor", 0),
                ("gaps", None),
                ("server_last_seq", None),
                ("server_received", None),
                (targets.FETCH_FAILURES_META, None),
            ):
                self.outbox.set_meta(key, value)
            # The old device's target lists would never be closed through the new device's
            # feed: their residents' personal data goes with the old registration.
            dropped = targets.drop_all(self.outbox)
            # The old team's operators (their key wraps), names and desa go with it too.
            profile.drop(self.outbox)
        if dropped:
            self.outbox.checkpoint()  # deleted target lists must not linger in the WAL
            log.info("deleted the target lists of %d visits of the previous registration", dropped)

    # -- capture ----------------------------------------------------------------------------

    def enroll(
        self,
        payload: Mapping[str, Any],
        operator: str | None = None,
        files: Mapping[str, Path | str] | None = None,
        exceptions: Mapping[str, str] | None = None,
        supersedes: str | None = None,
        *,
        data_key: bytes,
    ) -> capture.SavedRecord:
        """Check and durably queue one enrollment, sealed; raise ``CaptureInvalid`` and save
        nothing."""
        raw = dict(payload) if isinstance(payload, Mapping) else payload
        checked = capture.prepare(
            raw, operator or self.default_operator, files, exceptions, supersedes
        )
        return capture.save(self.outbox, self.settings.files_dir, [checked],
                            self.keys(data_key))[0]

    def fix(
        self,
        record: str,
        changes: Mapping[str, Any] | None = None,
        *,
        files: Mapping[str, Path | str] | None = None,
        exceptions: Mapping[str, str] | None = None,
        operator: str | None = None,
        data_key: bytes,
    ) -> capture.SavedRecord:
        """Queue the corrected version of a ``needs_fix`` record (id or seq); it supersedes it.

        Copies the card data, files and exceptions the office sent back, with the changes (a
        None value in ``changes`` removes a field). Raises ``FixRefused`` or ``CaptureInvalid``,
        saving nothing, when the record is unknown or not in needs_fix, or a value is bad.
        """
        return fixes.fix(
            self.outbox,
            self.settings.files_dir,
            record,
            self.keys(data_key),
            changes=changes,
            files=files,
            exceptions=exceptions,
            operator=operator or self.default_operator,
        )

    def import_jsonl(self, path: Path | str, operator: str | None = None, *,
                     data_key: bytes) -> importer.ImportReport:
        """Queue every good line of a JSON Lines file; report bad lines (per-line semantics)."""
        return importer.import_jsonl(
            self.outbox, self.settings.files_dir, Path(path), operator or self.default_operator,
            self.keys(data_key),
        )

    def keys(self, data_key: bytes) -> keys.Keys:
        """What saving needs: the office key this laptop seals to, and the data key."""
        return keys.keys(self.outbox, data_key)

    @property
    def default_operator(self) -> str | None:
        """The operator used when none is given: the environment's, else the stored one."""
        return self.settings.operator or self.outbox.get_meta("default_operator")

    def set_default_operator(self, operator: str | None) -> None:
        """Remember (or with None forget) the operator used when none is given."""
        with self.outbox.atomic():
            self.outbox.set_meta("default_operator", operator)

    # -- the operator web app: profile, login, NIK ------------------------------------------

    def profile_summary(self) -> dict[str, Any]:
        """The device profile: version, fetched_at, how many operators may log in."""
        return profile.summary(self.outbox)

    def profile_content(self, data_key: bytes) -> dict[str, Any]:
        """The profile under the data key: team, kecamatan, desa, operators' names."""
        return profile.content(self.outbox, data_key)

    def operators(self) -> list[str]:
        """Usernames of the operators who may log in on this device."""
        return profile.usernames(self.outbox)

    def desa_choices(self, data_key: bytes) -> list[dict[str, str]]:
        """Desa the form offers: the profile's plus those of the visits on the device."""
        return profile.desa_choices(self.outbox, data_key)

    def login(self, username: str, pin: str) -> login.Login:
        """Unwrap the data key with an operator's PIN, offline; a login error (with an
        escalating lock per operator) when it does not unwrap. The first login after an
        upgrade also encrypts the drafts an older version kept in clear."""
        who = login.login(self.outbox, username, pin,
                          allow_test_cost=self.settings.allow_test_kdf)
        drafts.secure_legacy(self.outbox, self.settings.drafts_dir, who.data_key)
        return who

    def lock_state(self, username: str) -> dict[str, Any]:
        """{failures, locked_until} of one operator: wrong PINs in a row, the lock's end."""
        return login.lock_state(self.outbox, username)

    def check_nik(
        self, nik: str, tanggal_lahir: str | None = None, jenis_kelamin: str | None = None,
        data_key: bytes | None = None,
    ) -> dict[str, Any]:
        """Check a NIK while it is typed (the rules of saving), against this device's kecamatan
        (known once the profile is opened with the data key)."""
        kecamatan = (profile.content(self.outbox, data_key).get("kecamatan") or {}).get("kode") \
            if data_key else None
        return nik_check.check(nik, tanggal_lahir, jenis_kelamin, kecamatan)

    def server_reachable(self, timeout: float = 2.0) -> bool:
        """Whether the registered server answers ``/healthz`` within ``timeout`` seconds."""
        url = self.outbox.get_meta("server_url")
        if not url or not self.outbox.get_meta("token"):
            return False
        quick = dataclasses.replace(
            self.settings, connect_timeout=timeout, read_timeout=timeout
        )
        try:
            if self._transport_factory is _default_transport:
                link = Transport(url, quick, None, retries=0)  # one try: a status light
            else:
                link = self._transport_factory(url, quick, None)
            with link:
                link.health()
        except FieldClientError:
            return False
        return True

    # -- drafts (the operator web app) ---------------------------------------------------------

    def save_draft(self, draft_id: str | None, data_key: bytes, **kw: Any) -> Draft:
        """Create (``draft_id`` None) or update a draft; see :func:`drafts.save` for ``kw``."""
        return drafts.save(self.outbox, self.settings.drafts_dir, draft_id, data_key, **kw)

    def draft(self, draft_id: str, data_key: bytes) -> Draft:
        """One draft (open or saved); ``DraftNotFound`` when unknown."""
        return drafts.get(self.outbox, draft_id, data_key)

    def drafts(self, data_key: bytes) -> list[Draft]:
        """Open drafts, the most recently changed first."""
        return drafts.listing(self.outbox, data_key)

    def discard_draft(self, draft_id: str) -> None:
        """Throw an open draft away with its uploaded files."""
        drafts.discard(self.outbox, self.settings.drafts_dir, draft_id)

    def draft_from_record(self, ref: str, operator: str, data_key: bytes) -> Draft:
        """A draft from what the office sent back of a record: a fix of a needs_fix one, a new
        try of a rejected one."""
        return drafts.start_from_record(
            self.outbox, self.settings.drafts_dir, ref, operator, data_key
        )

    def draft_from_target(self, nik: str, operator: str, data_key: bytes) -> Draft:
        """A draft for a resident of the target list, prefilled from it."""
        return drafts.start_from_target(self.outbox, self.settings.drafts_dir, nik, operator,
                                        data_key)

    def check_draft(self, draft_id: str, data_key: bytes) -> list[dict[str, str]]:
        """Check a draft as saving would, saving nothing: its warnings, or ``CaptureInvalid``."""
        return drafts.check(self.outbox, draft_id, data_key)

    def finalize_draft(
        self, draft_id: str, data_key: bytes, operator: str | None = None
    ) -> capture.SavedRecord:
        """Save a draft as a record exactly once (a second call answers with the same record)."""
        return drafts.finalize(
            self.outbox,
            self.settings.files_dir,
            self.settings.drafts_dir,
            draft_id,
            self.keys(data_key),
            operator=operator,
        )

    # -- looking ----------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """Counts per state, the device, the server, the last sync and the known seq gaps."""
        meta = self.outbox.meta()
        found = records.counts(self.outbox)
        counts = {state: found.get(state, 0) for state in records.CLIENT_STATES}
        counts.update(found)
        return {
            "home": str(self.home),
            "outbox": str(self.settings.outbox_path),
            "registered": bool(meta.get("token")),
            "server_url": meta.get("server_url"),
            "device_id": meta.get("device_id"),
            "device_name": meta.get("device_name"),
            "team": meta.get("team"),
            "counts": counts,
            "total": sum(counts.values()),
            "ready": counts["ready"],
            "next_seq": int(meta.get("next_seq", "1")),
            "last_sync_at": meta.get("last_sync_at"),
            "last_sync_attempt_at": meta.get("last_sync_attempt_at"),
            "last_sync_error": meta.get("last_sync_error"),
            "server_last_seq": _int_or_none(meta.get("server_last_seq")),
            "gaps": json.loads(meta.get("gaps") or "[]"),
            "pull_cursor": int(meta.get("pull_cursor", "0")),
            "default_operator": self.default_operator,
            # Files the server still lacks: {waiting, failed, bytes_left}, and why some failed.
            "files": upload_rows.summary(self.outbox),
            "failed_files": upload_rows.failed_files(self.outbox),
            "visits": self.visits(),
            "drafts": drafts.count_open(self.outbox),
            "profile": self.profile_summary(),
            "upgrade_pending": upgrade.pending(self.outbox),
        }

    def records(self, state: str | None = None,
                data_key: bytes | None = None) -> list[dict[str, Any]]:
        """Records in seq order, optionally only those in ``state``. With the data key each
        also has ``nama`` (masked), ``operator`` and ``reason`` (the office's); without it
        those are None. No record's data is ever in clear here."""
        if state is not None and state not in records.CLIENT_STATES:
            raise UsageInvalid(
                f"Status '{state}' tidak dikenal. Pilihan: {', '.join(records.CLIENT_STATES)}."
            )
        rows = records.listing(self.outbox, state)
        problems = upload_rows.problems_by_record(self.outbox)
        for row in rows:
            row["file_problems"] = problems.get(row["id"], [])
            label = records.open_box(data_key, row.pop("label")) or {}
            returned = records.open_box(data_key, row.pop("returned")) or {}
            row["nama"], row["operator"] = label.get("nama"), label.get("operator")
            row["reason"] = returned.get("reason")
        return rows

    # -- outreach targets -------------------------------------------------------------------

    def visits(self, data_key: bytes | None = None) -> list[dict[str, Any]]:
        """Outreach visits on this device: id, desa, kecamatan, dates, team, targets, and with
        the data key how many are done (None without it)."""
        return targets.visits(self.outbox, data_key)

    def targets(
        self, search: str | None = None, visit_id: str | None = None, *, data_key: bytes
    ) -> list[dict[str, Any]]:
        """Targets of the visits on this device (or of one), offline; each with ``done``.

        ``search``: part of a name (case and accents ignored) or of a NIK, taken literally.
        """
        return targets.listing(self.outbox, data_key, search, visit_id)

    def target_prefill(self, nik: str, data_key: bytes) -> dict[str, Any]:
        """Card data from the target list for a new record of ``nik`` (with the visit's desa)."""
        return targets.prefill(self.outbox, nik, data_key)

    # -- sync -------------------------------------------------------------------------------

    def sync(
        self,
        progress: ProgressCallback | None = None,
        upload_progress: ByteProgress | None = None,
    ) -> SyncReport:
        """Push what is ready, upload the files the server lacks, pull status changes."""
        meta = self.outbox.meta()
        if not meta.get("token") or not meta.get("server_url"):
            raise NotRegistered()
        with self._transport_factory(meta["server_url"], self.settings, meta["token"]) as link:
            engine = SyncEngine(self.outbox, link, self.settings, self._today)
            return engine.run_once(progress, upload_progress)

    def watch(
        self,
        stop_event: threading.Event | None = None,
        max_cycles: int | None = None,
        *,
        sleep: Callable[[float], object] | None = None,
        rng: random.Random | None = None,
        on_cycle: CycleCallback | None = None,
        probe: Probe | None = None,
    ) -> WatchSummary:
        """Sync until stopped, backing off (full jitter) while the network fails; a wait ends
        early once ``/healthz`` answers again (``probe``: tests inject their own)."""
        backoff = Backoff(self.settings.backoff_base, self.settings.backoff_max, rng)
        return watch(
            self.sync,
            idle_interval=self.settings.idle_interval,
            backoff=backoff,
            stop_event=stop_event,
            max_cycles=max_cycles,
            sleep=sleep,
            on_cycle=on_cycle,
            probe=probe or self.server_reachable,
        )

    def purge(self, now: dt.datetime | None = None) -> retention.PurgeReport:
        """Remove personal data of records confirmed complete longer ago than the retention."""
        blobs.sweep_incoming(self.settings.files_dir)
        return retention.purge(
            self.outbox, self.settings.files_dir, self.settings.retention_days, now
        )


def _default_transport(url: str, settings: Settings, token: str | None) -> Transport:
    return Transport(url, settings, token)


def _int_or_none(value: str | None) -> int | None:
    return None if value is None else int(value)
