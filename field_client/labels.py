"""How the operator reads the client's states: one wording for the CLI and the web app."""

from __future__ import annotations

STATE_LABELS = {
    "draft": "draf",
    "ready": "siap kirim",
    "sent": "terkirim, menunggu berkas",
    "complete": "lengkap",
    "rejected": "ditolak",
    "needs_fix": "perlu perbaikan",
    "superseded": "diganti versi baru",
    "approved": "disetujui",
    "printed": "tercetak",
    "suket_issued": "suket terbit",
}
