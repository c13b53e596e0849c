"""Bahasa Indonesia labels for states, case kinds and resolutions (template globals)."""

from __future__ import annotations

from server.review.record_view import FIELDS

STATE_LABELS = {
    "received": "diterima (berkas belum lengkap)", "complete": "lengkap",
    "verified": "terverifikasi", "needs_review": "perlu diperiksa",
    "needs_fix": "perlu perbaikan", "approved": "disetujui", "rejected": "ditolak",
    "duplicate": "duplikat", "superseded": "diganti versi baru", "printed": "dicetak",
    "suket_issued": "suket terbit",
}
KIND_LABELS = {
    "nik_invalid": "NIK tidak valid", "not_in_registry": "Tidak ada di registri",
    "registry_mismatch": "Beda dengan registri", "duplicate_nik": "NIK ganda",
    "shared_biometric": "Biometrik sama, NIK beda", "outside_area": "Di luar wilayah tugas",
    "captured_at_implausible": "Waktu rekam janggal", "sequence_gap": "Celah urutan",
}
RESOLUTION_LABELS = {
    "approved": "disetujui", "rejected": "ditolak", "duplicate": "duplikat ditandai",
    "needs_fix": "dikembalikan untuk perbaikan", "acknowledged": "dicatat",
    "cleared": "hilang sendiri (data berubah)",
}
GLOBALS = {"STATE_LABELS": STATE_LABELS, "KIND_LABELS": KIND_LABELS,
           "RESOLUTION_LABELS": RESOLUTION_LABELS, "CARD_FIELDS": FIELDS}
