"""The error catalogue: every problem code the API answers, with its HTTP status and title.

The server raises errors built from these entries and answers them as RFC 9457
``application/problem+json`` with ``code`` beside the status; the field client decides what a
refusal means from the code (a proxy's answer, which has none, falls back to its status).
Per-record refusals inside a push answer are ``shared.protocol.RecordError``.
"""

from __future__ import annotations

from typing import NamedTuple


class Problem(NamedTuple):
    """One kind of error answer: its HTTP status, its code and its title (Bahasa Indonesia)."""

    status: int
    code: str
    title: str


INTERNAL_ERROR = Problem(500, "internal_error", "Terjadi kesalahan pada server")
SERVICE_UNAVAILABLE = Problem(503, "service_unavailable",
                              "Layanan sedang tidak tersedia; coba lagi")
KEYRING_MISSING = Problem(503, "keyring_missing", "Key ring kantor tidak tersedia")
#: A lock the request needed stayed taken past the lock timeout (e.g. a full check run holds
#: the checks' lock): nothing was changed; try again shortly (Retry-After).
BUSY = Problem(503, "busy", "Server sedang sibuk; coba lagi sebentar")
# -- any request
INVALID_INPUT = Problem(400, "invalid_input", "Data yang dikirim tidak valid")
UNAUTHORIZED = Problem(401, "unauthorized", "Token perangkat tidak sah")
#: A device token unused for longer than the office allows: it may still push its queue
#: (records and their files), nothing else; registering the laptop again gives a new one.
TOKEN_EXPIRED = Problem(401, "token_expired", "Token perangkat kedaluwarsa")
FORBIDDEN = Problem(403, "forbidden", "Akses ditolak")
NOT_FOUND = Problem(404, "not_found", "Tidak ditemukan")
CONFLICT = Problem(409, "conflict", "Bertentangan dengan data yang sudah ada")
PAYLOAD_TOO_LARGE = Problem(413, "payload_too_large", "Permintaan terlalu besar")
UNSUPPORTED_MEDIA_TYPE = Problem(415, "unsupported_media_type", "Format kiriman tidak didukung")
#: A device request without ``Jemput-Protocol: 2``: an older field client, refused whole (so it
#: keeps its queue) and told to update.
CLIENT_OUTDATED = Problem(426, "client_outdated", "Aplikasi lapangan perlu diperbarui")
#: An address that failed to log in to the office too often within a while.
TOO_MANY_ATTEMPTS = Problem(429, "too_many_attempts", "Terlalu banyak percobaan gagal")
# -- devices and sync
REGISTRATION_CODE_INVALID = Problem(400, "registration_code_invalid",
                                    "Kode pendaftaran tidak dikenal")
REGISTRATION_CODE_USED = Problem(409, "registration_code_used", "Kode pendaftaran sudah dipakai")
REGISTRATION_CODE_EXPIRED = Problem(410, "registration_code_expired",
                                    "Kode pendaftaran sudah kedaluwarsa")
TOO_MANY_RECORDS = Problem(413, "too_many_records", "Terlalu banyak rekaman dalam satu kiriman")
# -- tus uploads
BAD_UPLOAD_REQUEST = Problem(400, "bad_upload_request", "Permintaan unggah tidak valid")
CHECKSUM_ALGORITHM_UNSUPPORTED = Problem(400, "checksum_algorithm_unsupported",
                                         "Algoritma checksum tidak didukung")
UPLOAD_INTERRUPTED = Problem(400, "upload_interrupted", "Kiriman terputus di tengah jalan")
UPLOAD_NOT_FOUND = Problem(404, "upload_not_found", "Unggahan tidak ditemukan")
UPLOAD_OFFSET_MISMATCH = Problem(409, "upload_offset_mismatch", "Upload-Offset tidak cocok")
UPLOAD_EXPIRED = Problem(410, "upload_expired", "Unggahan sudah kedaluwarsa")
UPLOAD_FAILED = Problem(410, "upload_failed", "Unggahan gagal diverifikasi dan dibuang")
TUS_VERSION_UNSUPPORTED = Problem(412, "tus_version_unsupported", "Versi tus tidak didukung")
UPLOAD_TOO_LARGE = Problem(413, "upload_too_large", "Berkas terlalu besar")
UPLOAD_BUSY = Problem(423, "upload_busy", "Unggahan ini sedang ditulis permintaan lain")
CHECKSUM_MISMATCH = Problem(460, "checksum_mismatch", "Checksum potongan tidak cocok")
BLOB_HASH_MISMATCH = Problem(460, "blob_hash_mismatch", "Hash berkas tidak cocok dengan sha256")
#: The sealed file does not open with the office key it names (unknown key, tampered bytes).
UPLOAD_UNREADABLE = Problem(422, "upload_unreadable", "Berkas tersegel tidak dapat dibuka")
STORAGE_FULL = Problem(507, "storage_full", "Penyimpanan server penuh")
#: A device with too many unfinished uploads open, or too many of their bytes: it finishes
#: (or lets expire) those first; nothing was created.
UPLOAD_QUOTA = Problem(429, "upload_quota", "Terlalu banyak unggahan yang belum selesai")
# -- outreach
NOT_ASSIGNED = Problem(403, "not_assigned", "Kunjungan ini bukan tugas perangkat ini")
VISIT_CLOSED = Problem(410, "visit_closed", "Kunjungan sudah ditutup atau dibatalkan")
# -- cards
OUT_OF_STOCK = Problem(409, "out_of_stock", "Stok blanko habis")
NOT_ENOUGH_STOCK = Problem(409, "not_enough_stock", "Stok blanko tidak cukup")
NOT_PRINTABLE = Problem(409, "not_printable", "Rekaman tidak dapat dicetak")
ALREADY_SPOILED = Problem(409, "already_spoiled", "Cetakan ini sudah dicatat rusak")
NOT_ELIGIBLE = Problem(409, "not_eligible", "Rekaman tidak dapat diberi Suket")
BLANKO_AVAILABLE = Problem(409, "blanko_available", "Blanko masih tersedia: cetak KTP-el saja")
SUKET_EXISTS = Problem(409, "suket_exists", "Rekaman sudah punya Suket yang berlaku")
SUKET_SUPERSEDED = Problem(409, "suket_superseded", "Suket sudah diganti KTP-el")
RENEWAL_NOT_DUE = Problem(409, "renewal_not_due", "Suket belum waktunya diperpanjang")
# -- the demo
DEMO_REFUSED = Problem(409, "demo_refused", "Demo tidak dijalankan")

# -- what the web framework raises by itself (an unknown address, a wrong method)
BAD_REQUEST = Problem(400, "bad_request", "Permintaan tidak dapat dibaca")
ROUTE_NOT_FOUND = Problem(404, "not_found", "Alamat tidak ditemukan")
METHOD_NOT_ALLOWED = Problem(405, "method_not_allowed", "Metode tidak diizinkan untuk alamat ini")
#: The framework's errors by HTTP status.
HTTP_PROBLEMS: dict[int, Problem] = {
    problem.status: problem for problem in (
        BAD_REQUEST, ROUTE_NOT_FOUND, METHOD_NOT_ALLOWED, PAYLOAD_TOO_LARGE,
        UNSUPPORTED_MEDIA_TYPE)
}

#: Codes that mean "not now": the client keeps everything and tries again later.
TRY_AGAIN_LATER = frozenset({SERVICE_UNAVAILABLE.code, BUSY.code, UPLOAD_BUSY.code,
                             STORAGE_FULL.code, UPLOAD_QUOTA.code})


def _catalogue() -> dict[str, Problem]:
    """Every entry above by code; ``not_found`` is the domain's wording, defined first."""
    found: dict[str, Problem] = {}
    for value in tuple(globals().values()):
        if isinstance(value, Problem):
            found.setdefault(value.code, value)
    return found


#: Every code the API answers, and its entry.
CATALOGUE: dict[str, Problem] = _catalogue()


#: What an answer means when its code is not in this catalogue (a newer server's): the
#: catalogue's entry for its status.
BY_STATUS: dict[int, Problem] = {
    problem.status: problem for problem in (
        INVALID_INPUT, UNAUTHORIZED, FORBIDDEN, NOT_FOUND, CONFLICT, PAYLOAD_TOO_LARGE,
        UNSUPPORTED_MEDIA_TYPE, UPLOAD_BUSY, CHECKSUM_MISMATCH, STORAGE_FULL)
}


def code_of(code: str | None, status: int, by_status: dict[int, Problem] = BY_STATUS) -> str | None:
    """The catalogue code an answer stands for: its own when the catalogue knows it, otherwise
    the one ``by_status`` gives its status (None when neither says)."""
    if code in CATALOGUE:
        return code
    known = by_status.get(status)
    return known.code if known else None
