"""How a person reads Jemput's codes, in Bahasa Indonesia: one wording for every screen.

The office pages, the field web app and both command lines take their labels from here, so a
state reads the same on the laptop and in the office.
"""

from __future__ import annotations

#: Record states, the laptop's (draft, ready, sent) and the office's, with one wording each.
STATE_LABELS: dict[str, str] = {
    "draft": "draf",
    "ready": "siap kirim",
    "sent": "terkirim, menunggu berkas",
    "received": "diterima (berkas belum lengkap)",
    "complete": "lengkap",
    "verified": "terverifikasi",
    "needs_review": "perlu diperiksa",
    "needs_fix": "perlu perbaikan",
    "approved": "disetujui",
    "rejected": "ditolak",
    "duplicate": "duplikat",
    "superseded": "diganti versi baru",
    "printed": "dicetak",
    "suket_issued": "suket terbit",
}
#: What a reconciliation case is about (``shared.protocol.CaseKind``).
KIND_LABELS: dict[str, str] = {
    "nik_invalid": "NIK tidak valid",
    "not_in_registry": "Tidak ada di registri",
    "registry_mismatch": "Beda dengan registri",
    "duplicate_nik": "NIK ganda",
    "shared_biometric": "Biometrik sama, NIK beda",
    "outside_area": "Di luar wilayah tugas",
    "captured_at_implausible": "Waktu rekam janggal",
    "sequence_gap": "Celah urutan",
}
#: How a case was closed (``shared.protocol.CaseResolution``).
RESOLUTION_LABELS: dict[str, str] = {
    "approved": "disetujui",
    "rejected": "ditolak",
    "duplicate": "duplikat ditandai",
    "needs_fix": "dikembalikan untuk perbaikan",
    "acknowledged": "dicatat",
    "cleared": "hilang sendiri (data berubah)",
}


def state_label(state: str) -> str:
    """The wording of a record state; an unknown code is shown as it is."""
    return STATE_LABELS.get(state, state)
