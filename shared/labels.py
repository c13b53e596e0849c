"""How a person reads Jemput's codes, in Bahasa Indonesia: one vocabulary for every screen.

The office pages, the field web app, both command lines and the documents take their words from
here, so a state, a field or a biometric reads the same on the laptop and in the office. A code
that has no entry yet is shown as it is (the language check in the browser tests finds those).
"""

from __future__ import annotations

#: The card fields of a record (SIAK names), as the form and the office pages label them.
FIELD_LABELS: dict[str, str] = {
    "nik": "NIK",
    "nama": "Nama lengkap",
    "tempat_lahir": "Tempat lahir",
    "tanggal_lahir": "Tanggal lahir",
    "jenis_kelamin": "Jenis kelamin",
    "golongan_darah": "Golongan darah",
    "alamat": "Alamat",
    "rt": "RT",
    "rw": "RW",
    "desa_kode": "Desa/kelurahan",
    "agama": "Agama",
    "status_perkawinan": "Status perkawinan",
    "pekerjaan": "Pekerjaan",
    "kewarganegaraan": "Kewarganegaraan",
}
#: The biometric files of a record (``shared.vocab.BIOMETRIC_ROLES``).
ROLE_LABELS: dict[str, str] = {
    "photo": "foto wajah",
    "signature": "tanda tangan",
    "iris_left": "iris kiri",
    "iris_right": "iris kanan",
    "finger_r_thumb": "ibu jari kanan",
    "finger_r_index": "telunjuk kanan",
    "finger_r_middle": "jari tengah kanan",
    "finger_r_ring": "jari manis kanan",
    "finger_r_little": "kelingking kanan",
    "finger_l_thumb": "ibu jari kiri",
    "finger_l_index": "telunjuk kiri",
    "finger_l_middle": "jari tengah kiri",
    "finger_l_ring": "jari manis kiri",
    "finger_l_little": "kelingking kiri",
}
#: Why a biometric could not be recorded (``shared.vocab.EXCEPTION_REASONS``).
REASON_LABELS: dict[str, str] = {
    "amputated": "diamputasi",
    "injured": "cedera",
    "bandaged": "diperban",
    "congenital": "bawaan lahir",
    "unreadable": "tidak terbaca",
    "other": "lainnya",
}
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
#: What an office user may do (``server`` user roles).
USER_ROLE_LABELS: dict[str, str] = {
    "admin": "administrator",
    "supervisor": "supervisor",
    "reviewer": "peninjau",
    "viewer": "pemantau",
}
#: An outreach visit's state.
VISIT_STATE_LABELS: dict[str, str] = {
    "planned": "direncanakan",
    "closed": "ditutup",
    "cancelled": "dibatalkan",
}
#: A Suket's status, and the lists the office filters by.
SUKET_STATUS_LABELS: dict[str, str] = {
    "valid": "berlaku",
    "expiring": "habis ≤ 30 hari",
    "expired": "kedaluwarsa",
    "superseded": "diganti KTP-el",
    "waiting": "menunggu KTP-el",
    "all": "semua",
}
#: A movement in the blank-card ledger.
BLANKO_KIND_LABELS: dict[str, str] = {
    "received": "diterima",
    "used": "dipakai cetak",
    "spoiled": "rusak",
    "returned": "dikembalikan",
}
#: A print job's state.
PRINT_JOB_LABELS: dict[str, str] = {
    "printed": "dicetak",
    "spoiled": "rusak",
}
#: Background jobs (the office's "Pekerjaan latar" page and ``jemput-server jobs``).
JOB_KIND_LABELS: dict[str, str] = {
    "check_records": "Pemeriksaan rekaman baru",
    "check_all": "Pemeriksaan penuh",
    "import_population": "Impor data penduduk",
    "refresh_coverage": "Penghitungan ulang cakupan",
}
JOB_STATE_LABELS: dict[str, str] = {
    "queued": "menunggu",
    "running": "berjalan",
    "done": "selesai",
    "failed": "gagal",
}
#: What an audit event records (the ``action`` of the audit chain).
ACTION_LABELS: dict[str, str] = {
    "approve": "setujui",
    "reject": "tolak",
    "needs_fix": "kembalikan untuk perbaikan",
    "duplicate": "tandai duplikat",
    "acknowledge": "catat",
    "bulk_approve": "setujui massal",
    "checks": "pemeriksaan otomatis",
    "supersede": "diganti versi baru",
    "case_resolved": "kasus diselesaikan",
    "case_reopened": "kasus dibuka lagi",
    "case_cleared": "kasus hilang sendiri",
    "print": "cetak KTP-el",
    "reprint": "cetak ulang",
    "print_spoiled": "salah cetak",
    "print_priority_set": "prioritas cetak",
    "print_priority_cleared": "prioritas cetak dicabut",
    "suket_issue": "Suket terbit",
    "suket_renewed": "Suket diperpanjang",
    "suket_superseded": "Suket diganti KTP-el",
    "blanko_received": "blanko diterima",
    "blanko_spoiled": "blanko rusak",
    "blanko_returned": "blanko dikembalikan",
    "outreach_plan": "kunjungan direncanakan",
    "outreach_close": "kunjungan ditutup",
    "outreach_cancel": "kunjungan dibatalkan",
    "operator_add": "operator ditambahkan",
    "operator_pin_reset": "PIN operator diganti",
    "operator_enable": "operator diaktifkan",
    "operator_disable": "operator dinonaktifkan",
}
#: The part before ``:`` of an audit actor (``user:rina``, ``device:…``), as a person says it.
ACTOR_KIND_LABELS: dict[str, str] = {"user": "", "device": "perangkat ", "operator": "operator "}
#: The audit chain's own actor.
SYSTEM_ACTOR = "sistem"

#: Every table above, for the checks that no screen shows a bare code.
ALL_LABELS: tuple[dict[str, str], ...] = (
    FIELD_LABELS, ROLE_LABELS, REASON_LABELS, STATE_LABELS, KIND_LABELS, RESOLUTION_LABELS,
    USER_ROLE_LABELS, VISIT_STATE_LABELS, SUKET_STATUS_LABELS, BLANKO_KIND_LABELS,
    PRINT_JOB_LABELS, ACTION_LABELS,
)


def state_label(state: str) -> str:
    """The wording of a record state; an unknown code is shown as it is."""
    return STATE_LABELS.get(state, state)


def audit_state_label(state: str) -> str:
    """A state the audit chain names: a record's, a Suket's or a visit's."""
    for table in (STATE_LABELS, SUKET_STATUS_LABELS, VISIT_STATE_LABELS):
        if state in table:
            return table[state]
    return state


def field_label(name: str) -> str:
    """The label of a card field (``tempat_lahir`` -> ``Tempat lahir``)."""
    return FIELD_LABELS.get(name, name)


def role_label(role: str) -> str:
    """A biometric as an operator says it (``finger_r_index`` -> ``telunjuk kanan``)."""
    return ROLE_LABELS.get(role, role)


def reason_label(reason: str) -> str:
    """An exception reason (``injured`` -> ``cedera``)."""
    return REASON_LABELS.get(reason, reason)


def actor_label(actor: str) -> str:
    """Who the audit chain names: ``user:rina`` -> ``rina``, ``system`` -> ``sistem``."""
    if actor == "system":
        return SYSTEM_ACTOR
    kind, sep, name = actor.partition(":")
    if not sep or kind not in ACTOR_KIND_LABELS:
        return actor
    return f"{ACTOR_KIND_LABELS[kind]}{name}"
