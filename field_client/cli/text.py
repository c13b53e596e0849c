"""What ``jemput-field`` prints: sync reports, progress bars and small formatting helpers."""

from __future__ import annotations

import sys
from typing import Any

from tqdm import tqdm

from field_client.store import records
from field_client.sync.report import SyncReport


class ProgressBar:
    """A tqdm bar on stderr, shown only on a terminal (``disable=None``)."""

    def __init__(
        self, unit: str = "rekaman", desc: str = "Mengirim", unit_scale: bool = False
    ) -> None:
        self._bar: tqdm[Any] | None = None
        self._style = {"unit": unit, "desc": desc, "unit_scale": unit_scale}

    def __call__(self, done: int, total: int) -> None:
        if self._bar is None:
            self._bar = tqdm(total=total, disable=None, file=sys.stderr, **self._style)
        self._bar.total = total
        self._bar.update(done - self._bar.n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def print_report(report: SyncReport) -> None:
    """The summary of one sync run, on stdout."""
    if report.upgrade:
        done = report.upgrade
        out(f"Antrean lama disegel: {done['records']} rekaman dan {done['files']} berkas, untuk "
            f"kunci kantor {done['office_key_fingerprint']} (cocokkan dengan sidik jari yang "
            "dibacakan kantor).")
        if done.get("drafts_left"):
            out(f"{done['drafts_left']} draf lama dienkripsi saat operator masuk berikutnya.")
    out(
        f"Terkirim {report.pushed} rekaman: {report.accepted} diterima, {report.duplicate} "
        f"sudah ada di server, {report.rejected} ditolak."
    )
    for item in report.rejections:
        out(f"  ditolak seq {item['seq']} ({item['id']}): {item['message']}")
    if report.held_back:
        out(f"Tertahan di antrean (tidak ditolak, dicoba lagi nanti): {len(report.held_back)}.")
    if report.pulled:
        out(f"Status baru dari server: {report.pulled}.")
    if report.files_uploaded or report.bytes_uploaded:
        out(
            f"Berkas biometrik di server: {report.files_uploaded} "
            f"({human_bytes(report.bytes_uploaded)} diunggah)."
        )
    for item in report.files_failed:
        out(f"  berkas gagal seq {item['seq']} {item['role']}: {item['message']}")
    if report.waiting_for_files:
        waiting = report.files_waiting
        files = f" ({waiting} berkas belum terunggah)" if waiting else ""
        out(f"Menunggu berkas lengkap di server: {report.waiting_for_files} rekaman{files}.")
    if report.gaps:
        out(f"Seq yang belum diterima server: {ranges(report.gaps)}")
    for line in visit_notes(report):
        out(line)
    out(f"Sisa di antrean: {report.remaining}.")


def visit_notes(report: SyncReport) -> list[str]:
    """Lines about outreach target lists received, refused or removed by one sync."""
    lines = []
    if report.visits_received:
        lines.append(
            f"Daftar sasaran diterima: {report.visits_received} kunjungan, "
            f"{report.targets_received} penduduk (lihat: jemput-field targets)."
        )
    for item in report.visits_refused:
        if item["status"] is None:  # fetched and failed again and again: given up
            lines.append(
                f"Daftar sasaran kunjungan {item['visit_id']} tidak dapat diambil berulang kali "
                f"({item['code']}); dilewati agar status rekaman lain tetap masuk. Minta kantor "
                "memeriksa kunjungan ini."
            )
            continue
        lines.append(
            f"Daftar sasaran kunjungan {item['visit_id']} tidak diberikan server (HTTP "
            f"{item['status']}, {item['code']}): tidak disimpan di perangkat ini."
        )
    if report.visits_removed:
        lines.append(
            f"Daftar sasaran {report.visits_removed} kunjungan yang selesai atau ditutup "
            "dihapus dari perangkat."
        )
    return lines


def left_line(ready: int, files: int) -> str:
    """What still waits on the device, for the closing line of ``sync``."""
    text = f"{ready} rekaman masih menunggu di antrean"
    if files:
        text += f", {files} berkas biometrik menunggu unggah (dilanjutkan dari posisi terakhir)"
    return text


def files_note(row: dict[str, Any]) -> str:
    """``berkas 10/14`` for a record waiting for its files, else nothing."""
    if row["state"] != "sent" or not row["files"]:
        return ""
    failed = f", {row['files_failed']} gagal" if row["files_failed"] else ""
    return f"  berkas {row['files_uploaded']}/{row['files']} terunggah{failed}"


def record_notes(row: dict[str, Any]) -> list[str]:
    """Extra lines under a record in ``records``: why it came back, how to fix, what replaced it."""
    if row["state"] == "needs_fix":
        reason = row.get("reason") or row["error_message"]
        if reason is None and row.get("nama") is None:
            reason = "(tampilkan dengan --details; meminta PIN)"
        return [
            f"alasan kantor: {reason or '(tanpa keterangan)'}",
            f"perbaiki: jemput-field fix {row['seq']} --set KOLOM=NILAI / --file PERAN=PATH",
        ]
    if row["state"] == "superseded" and row["superseded_by"]:
        return [f"diganti oleh rekaman {row['superseded_by']}"]
    if row["state"] in STATUS_DATE_WORDS:
        day = records.local_date(row.get("server_state_at"))
        return [f"{STATUS_DATE_WORDS[row['state']]}{' ' + day if day else ''}"]
    return []


#: States whose date the operator needs when the resident asks: the card, or the Suket.
STATUS_DATE_WORDS = {"printed": "sudah dicetak", "suket_issued": "Suket terbit"}

def fix_hint(count: int) -> str | None:
    """The line that points the operator at records the office sent back, or None."""
    if not count:
        return None
    return (
        f"{count} rekaman dikembalikan kantor untuk diperbaiki; alasannya: "
        "jemput-field records --state needs_fix"
    )


def human_bytes(count: int) -> str:
    """A byte count for people: 512 B, 20.5 KB, 3.2 MB."""
    size = float(count)
    for unit in ("B", "KB", "MB"):
        if size < 1024:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"


def ranges(gaps: list[list[int]]) -> str:
    """Seq ranges as ``3, 7-9``."""
    return ", ".join(f"{a}" if a == b else f"{a}-{b}" for a, b in gaps)


def out(text: str) -> None:
    """A line on stdout."""
    print(text)


def err(text: str) -> None:
    """A line on stderr."""
    print(text, file=sys.stderr)


def visit_line(visit: dict[str, Any]) -> str:
    """One outreach visit and its progress: desa, dates, team, ``x dari y sudah direkam``."""
    where = visit["desa_nama"]
    if visit.get("kecamatan_nama"):
        where += f", Kec. {visit['kecamatan_nama']}"
    dates = visit["visit_date"]
    if visit["ends_on"] != visit["visit_date"]:
        dates += f" s.d. {visit['ends_on']}"
    if visit["done"] is None:  # the list is under the data key: no PIN, no progress
        return (f"Kunjungan {where} ({visit['desa_kode']}), {dates}, tim {visit['team']}: "
                f"{visit['targets']} sasaran")
    return (
        f"Kunjungan {where} ({visit['desa_kode']}), {dates}, tim {visit['team']}: "
        f"{visit['done']} dari {visit['targets']} sasaran sudah direkam"
    )


def target_line(target: dict[str, Any]) -> str:
    """One row of the target table: NIK, name, birth date, done mark."""
    mark = "sudah" if target["done"] else "belum"
    born = target["tanggal_lahir"] or "-"
    return f"{target['nik']}  {target['nama'][:40]:<40}  {born:<10}  {mark}"
