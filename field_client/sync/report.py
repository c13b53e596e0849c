"""What one sync run did: counts, refusals and warnings, for the CLI, the web app and tests."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class SyncReport:
    """What one sync run did."""

    pushed: int = 0  # records sent in requests the server answered
    accepted: int = 0
    duplicate: int = 0  # already on the server (a replay); as good as accepted
    rejected: int = 0
    unanswered: int = 0  # sent without a final per-record answer: still ready
    pulled: int = 0  # status changes applied to local records
    remaining: int = 0  # records still ready after the run
    waiting_for_files: int = 0  # records the server holds without all of their files
    last_seq: int | None = None  # highest seq the server has seen from this device
    gaps: list[list[int]] = field(default_factory=list)  # seq ranges the server never got
    rejections: list[dict[str, Any]] = field(default_factory=list)
    #: Records kept ready this run with the reason ({id, seq, code, message}): a 413 alone, or a
    #: hash_mismatch while the stored body is intact. They go again on the next run.
    held_back: list[dict[str, Any]] = field(default_factory=list)
    pull_error: str | None = None  # status changes could not be fetched (push went fine)
    files_uploaded: int = 0  # files the server holds now thanks to this run (or already had)
    bytes_uploaded: int = 0  # file bytes the server acknowledged this run
    #: Files that could not be sent and need a person ({sha256, seq, role, code, message}):
    #: missing or changed on disk, too large, refused. Their records stay ``sent``.
    files_failed: list[dict[str, Any]] = field(default_factory=list)
    files_waiting: int = 0  # files the server still lacks after the run (not failed)
    visits_received: int = 0  # outreach visits whose target list was stored (or replaced)
    targets_received: int = 0  # residents on those target lists
    visits_removed: int = 0  # visits deleted from the device with their targets (closed, over)
    #: Target lists the server refused to hand over ({visit_id, status, code}); dropped here.
    visits_refused: list[dict[str, Any]] = field(default_factory=list)
    profile_error: str | None = None  # the device profile could not be fetched (a warning)
    profile_updated: bool = False  # a new device profile (operators, desa) was stored
    #: The upgrade of a queue an older version kept in clear, when this run did it:
    #: {records, files, drafts_left, office_key_fingerprint} (``sync.upgrade``).
    upgrade: dict[str, Any] | None = None

    @property
    def done(self) -> bool:
        """True when nothing is left to send: no record ready, no file waiting or failed."""
        return self.remaining == 0 and self.files_waiting == 0 and not self.files_failed

    def as_dict(self) -> dict[str, Any]:
        """The report as plain JSON-able data."""
        return asdict(self) | {"done": self.done}
