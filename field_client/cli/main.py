"""``jemput-field``: parse arguments, call :class:`FieldClient`, print, translate errors.

Exit codes: 0 done, 1 error, 2 wrong usage, 75 (EX_TEMPFAIL) work remains and running again
later may help: the network failed or someone else answered (a hotspot login page), another sync
was running or the outbox was locked, or records were kept in the queue without the server's
final answer (too large for a size limit, damaged on the way), or files are still waiting for
upload. `sync` exits 1 when biometric files could not be uploaded and need a person (missing or
changed on disk, refused by the server): running again alone will not help, although every sync
checks them again; `status` and `records` say why. Their records stay `sent`, nothing is lost.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from field_client.cli import fix as cli_fix
from field_client.cli import targets as cli_targets
from field_client.cli import ui as cli_ui
from field_client.cli.args import (
    add_biometric_options,
    add_pin_option,
    biometric_inputs,
    command,
    read_json_object,
    unlock,
)
from field_client.cli.text import (
    ProgressBar,
    err,
    files_note,
    fix_hint,
    human_bytes,
    left_line,
    out,
    print_report,
    ranges,
    record_notes,
    visit_line,
)
from field_client.client import FieldClient
from field_client.errors import (
    EX_TEMPFAIL,
    CaptureInvalid,
    FieldClientError,
    NetworkUnavailable,
)
from field_client.store import records
from field_client.store.records import CLIENT_STATES
from field_client.sync.report import SyncReport
from shared.labels import STATE_LABELS
from shared.schemas import PAYLOAD_FIELDS
from shared.vocab import BIOMETRIC_ROLES, EXCEPTION_REASONS

EX_OK, EX_ERROR, EX_USAGE, EX_INTERRUPTED = 0, 1, 2, 130
FIELD_HELP = {
    "nik": "16 angka",
    "tanggal_lahir": "TTTT-BB-HH, mis. 1990-08-17",
    "jenis_kelamin": "LAKI-LAKI atau PEREMPUAN",
    "rt": "3 angka, mis. 001",
    "rw": "3 angka, mis. 002",
    "desa_kode": "kode Kemendagri, mis. 61.09.04.2006",
    "kewarganegaraan": "WNI atau WNA",
}
REASONS = ", ".join(EXCEPTION_REASONS)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit code (the console script exits with it)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help (0) or wrong usage (2)
        return exc.code if isinstance(exc.code, int) else EX_USAGE
    if not getattr(args, "handler", None):
        parser.print_help(sys.stderr)
        return EX_USAGE
    _configure_logging(args.verbose)
    try:
        with FieldClient(args.home) as client:
            return int(args.handler(client, args))
    except CaptureInvalid as exc:
        err("Data belum benar, tidak ada yang disimpan:")
        for line in exc.lines():
            err(f"  - {line}")
        return EX_ERROR
    except FieldClientError as exc:
        err(f"Gagal: {exc.message}")
        return exc.exit_code
    except KeyboardInterrupt:
        err("Dibatalkan. Rekaman yang sudah tersimpan tetap aman.")
        return EX_INTERRUPTED


def _configure_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # urllib3 reports each connect retry; the operator gets one plain message from us instead.
    logging.getLogger("urllib3").setLevel(logging.DEBUG if verbose else logging.ERROR)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``jemput-field``."""
    parser = argparse.ArgumentParser(
        prog="jemput-field",
        description="Perekaman e-KTP jemput bola: simpan rekaman tanpa sinyal, kirim saat ada.",
    )
    parser.add_argument("--home", type=Path, default=None, help="folder data perangkat")
    parser.add_argument("-v", "--verbose", action="store_true", help="tampilkan log rinci")
    commands = parser.add_subparsers(title="perintah", metavar="PERINTAH")

    reg = command(commands, "register", "daftarkan perangkat ke server", _register)
    reg.add_argument("--server", required=True, help="alamat server, mis. https://...")
    reg.add_argument("--code", required=True, help="kode pendaftaran sekali pakai")
    reg.add_argument("--name", help="nama perangkat (bawaan: nama komputer)")
    reg.add_argument("--force", action="store_true", help="daftar ulang walau sudah terdaftar")

    _add_enroll(commands)

    imp = command(commands, "import", "rekam banyak penduduk dari berkas JSONL", _import)
    imp.add_argument("file", type=Path, metavar="FILE.jsonl")
    imp.add_argument("--operator", help="operator yang masuk dengan PIN-nya (juga untuk baris "
                     "tanpa operator)")
    add_pin_option(imp)

    status = command(commands, "status", "ringkasan antrean dan perangkat", _status)
    status.add_argument("--json", action="store_true", help="keluaran JSON")

    command(commands, "sync", "kirim antrean dan ambil status sekali", _sync)
    command(commands, "watch", "sinkron terus-menerus sampai dihentikan (Ctrl-C)", _watch)

    recs = command(commands, "records", "daftar rekaman", _records)
    recs.add_argument("--state", choices=CLIENT_STATES, help="hanya status ini")
    recs.add_argument("--json", action="store_true", help="keluaran JSON")
    recs.add_argument("--details", action="store_true",
                      help="tampilkan nama (tersamar), operator dan alasan kantor; meminta PIN")
    recs.add_argument("--operator", help="operator yang masuk untuk --details")
    add_pin_option(recs)

    cli_fix.add_fix(commands)
    cli_targets.add_targets(commands)
    cli_ui.add_ui(commands)

    command(commands, "purge", "hapus data pribadi rekaman lengkap yang sudah lama", _purge)
    return parser


def _add_enroll(commands: Any) -> None:
    enroll = command(commands, "enroll", "rekam satu penduduk", _enroll)
    for name in PAYLOAD_FIELDS:
        enroll.add_argument(
            f"--{name.replace('_', '-')}", dest=name, metavar="NILAI", help=FIELD_HELP.get(name)
        )
    enroll.add_argument("--json", type=Path, help="berkas JSON berisi data kartu")
    enroll.add_argument("--operator", help="nama operator (atau JEMPUT_OPERATOR)")
    add_biometric_options(
        enroll,
        files_help=f"berkas biometrik; PERAN: {', '.join(BIOMETRIC_ROLES)} (semua wajib: foto "
        "selalu, yang lain berkas atau --exception)",
        exceptions_help=f"biometrik yang tidak dapat direkam (bukan foto); ALASAN: {REASONS}",
    )
    enroll.add_argument("--supersedes", help="id rekaman yang dikoreksi oleh rekaman ini")
    enroll.add_argument(
        "--target",
        metavar="NIK",
        help="isi data kartu dari daftar sasaran kunjungan (opsi lain menimpanya)",
    )
    add_pin_option(enroll)


# -- commands -----------------------------------------------------------------------------


def _register(client: FieldClient, args: argparse.Namespace) -> int:
    done = client.register(args.server, args.code, args.name, force=args.force)
    out(f"Perangkat terdaftar di {done.server_url}: {done.name} (tim {done.team}).")
    out(f"Sidik jari kunci kantor: {done.office_key_fingerprint}. Cocokkan dengan yang "
        "dibacakan kantor bersama kode pendaftaran; bila berbeda, jangan rekam dan hubungi "
        "kantor.")
    out(f"ID perangkat: {done.device_id}")
    return EX_OK


def _enroll(client: FieldClient, args: argparse.Namespace) -> int:
    # What the command line gives is checked before the PIN is asked for.
    given = read_json_object(args.json) if args.json else {}
    given.update({k: getattr(args, k) for k in PAYLOAD_FIELDS if getattr(args, k) is not None})
    files, exceptions = biometric_inputs(args)
    who = unlock(client, args)
    # Prefill from the target list, then the JSON file, then options: the later one wins.
    payload = client.target_prefill(args.target, who.data_key) if args.target else {}
    payload.update(given)
    saved = client.enroll(
        payload,
        operator=who.username,
        files=files,
        exceptions=exceptions,
        supersedes=args.supersedes,
        data_key=who.data_key,
    )
    out(f"Rekaman {saved.id} (seq {saved.seq}) tersimpan aman di antrean.")
    for warning in saved.warnings:
        out(f"Peringatan: {warning['message']}")
    return EX_OK


def _import(client: FieldClient, args: argparse.Namespace) -> int:
    who = unlock(client, args)
    report = client.import_jsonl(args.file, operator=who.username, data_key=who.data_key)
    for item in report.saved:
        for warning in item.record.warnings:
            out(f"baris {item.line}: peringatan: {warning['message']}")
    out(
        f"{len(report.saved)} rekaman tersimpan aman di antrean; "
        f"{len(report.errors)} baris ditolak."
    )
    for error in report.errors:
        for line in error.lines():
            err(line)
    return EX_OK if report.ok else EX_ERROR


def _status(client: FieldClient, args: argparse.Namespace) -> int:
    info = client.status()
    if args.json:
        out(json.dumps(info, ensure_ascii=False, indent=2))
        return EX_OK
    out(f"Folder data: {info['home']}")
    if info["registered"]:
        out(f"Server: {info['server_url']} ({info['device_name']}, tim {info['team']})")
    else:
        out("Server: belum terdaftar (jemput-field register --server URL --code KODE)")
    shown = [f"{STATE_LABELS.get(s, s)} {n}" for s, n in info["counts"].items() if n]
    out(f"Rekaman: {info['total']} ({', '.join(shown) or 'kosong'})")
    if hint := fix_hint(info["counts"]["needs_fix"]):
        out(hint)
    out(f"Sinkron terakhir: {records.local_time(info['last_sync_at']) or 'belum pernah'}")
    if info["upgrade_pending"]:
        out("Antrean lama (versi sebelumnya) belum disegel: sinkron berikutnya menyegelnya "
            "lebih dulu.")
    if info["last_sync_error"]:
        out(f"Masalah sinkron terakhir: {info['last_sync_error']}")
    if info["gaps"]:
        out(f"Seq yang belum diterima server: {ranges(info['gaps'])}")
    files = info["files"]
    if files["waiting"] or files["failed"]:
        out(
            f"Berkas biometrik belum di server: {files['waiting']} menunggu unggah, "
            f"{files['failed']} gagal ({human_bytes(files['bytes_left'])} tersisa)"
        )
    for item in info["failed_files"]:
        out(f"  gagal seq {item['seq']} {item['role']}: {item['message']}")
    for visit in info["visits"]:
        out(visit_line(visit))
    return EX_OK


def _sync(client: FieldClient, args: argparse.Namespace) -> int:
    bar = ProgressBar()
    # One bar over the bytes of every file to upload (records have their own bar above).
    byte_bar = ProgressBar(unit="B", desc="Mengunggah berkas", unit_scale=True)
    try:
        report = client.sync(progress=bar, upload_progress=byte_bar)
    except NetworkUnavailable as exc:
        bar.close()
        byte_bar.close()
        if exc.report is not None:
            print_report(exc.report)
        err(f"Gagal: {exc.message}")
        info = client.status()
        err(f"{left_line(info['ready'], info['files']['waiting'])}; jalankan sync lagi.")
        return EX_TEMPFAIL
    bar.close()
    byte_bar.close()
    print_report(report)
    if report.pulled and (hint := fix_hint(client.status()["counts"]["needs_fix"])):
        out(hint)
    if report.pull_error:
        err(f"Peringatan: status dari server belum diambil: {report.pull_error}")
    return _sync_exit(report)


def _sync_exit(report: SyncReport) -> int:
    """0 when all went; 1 when files need a person; else 75 (try again later)."""
    if report.done:
        return EX_OK
    for item in report.held_back:
        err(f"Perhatian seq {item['seq']} ({item['id']}): {item['message']}")
    if report.files_failed:
        err(
            f"{len(report.files_failed)} berkas biometrik tidak dapat diunggah dan perlu "
            "diperiksa (alasannya di atas; juga: jemput-field status). Rekamannya tetap "
            "tersimpan dan tidak ada yang dihapus."
        )
        return EX_ERROR
    err(
        f"{left_line(report.remaining, report.files_waiting)} (tidak ada yang hilang atau ditolak "
        "karenanya); jalankan sync lagi nanti."
    )
    return EX_TEMPFAIL


def _watch(client: FieldClient, args: argparse.Namespace) -> int:
    def on_cycle(
        cycle: int, report: SyncReport | None, error: FieldClientError | None, delay: float
    ) -> None:
        now = dt.datetime.now().strftime("%H:%M:%S")
        problem = error.message if error else report.pull_error if report else None
        if report is not None:
            then = "" if problem else f"; lagi dalam {delay:.0f} detik"
            held = f", tertahan {len(report.held_back)}" if report.held_back else ""
            files = f", berkas terunggah {report.files_uploaded}" if report.files_uploaded else ""
            failed = f", berkas gagal {len(report.files_failed)}" if report.files_failed else ""
            out(
                f"[{now}] terkirim {report.pushed}, ditolak {report.rejected}{held}{files}"
                f"{failed}, status baru {report.pulled}, sisa {report.remaining}{then}."
            )
            for item in report.held_back:
                err(f"[{now}] tertahan seq {item['seq']}: {item['message']}")
        if problem:
            err(
                f"[{now}] gagal: {problem} Coba lagi paling lama dalam {delay:.0f} detik "
                "(lebih cepat begitu server terjangkau lagi)."
            )

    out("Sinkron terus-menerus; tekan Ctrl-C untuk berhenti.")
    stop = threading.Event()
    with _stop_on_sigterm(stop):
        summary = client.watch(stop_event=stop, on_cycle=on_cycle)
    out(f"Berhenti setelah {summary.cycles} putaran.")
    return EX_OK


def _records(client: FieldClient, args: argparse.Namespace) -> int:
    data_key = unlock(client, args).data_key if args.details else None
    rows = client.records(args.state, data_key)
    if args.json:
        out(json.dumps(rows, ensure_ascii=False, indent=2))
        return EX_OK
    for row in rows:
        who = "(sudah dibersihkan)" if row["purged"] else (row["nama"] or "")
        notes = record_notes(row)  # the office's reason for needs_fix, on its own line
        shown = row["error_message"] and not notes
        reason = f" - {row['error_message']}" if shown else ""
        label = STATE_LABELS.get(row["state"], row["state"])
        if row["state"] == "rejected" and row["server_state"] == "duplicate":
            label = "ditolak: duplikat"
        out(f"{row['seq']:>6}  {label:<26} {who}  {row['id']}{files_note(row)}{reason}")
        for note in notes:
            out(f"        {note}")
        for problem in row["file_problems"]:
            out(f"        berkas {problem['role']} gagal: {problem['message']}")
    out(f"{len(rows)} rekaman.")
    return EX_OK


def _purge(client: FieldClient, args: argparse.Namespace) -> int:
    done = client.purge()
    days = client.settings.retention_days
    out(
        f"Dibersihkan: {done.records} rekaman, {done.files} berkas biometrik (hanya yang "
        f"dinyatakan lengkap oleh server lebih dari {days} hari lalu)."
    )
    return EX_OK


# -- helpers ------------------------------------------------------------------------------


@contextmanager
def _stop_on_sigterm(stop: threading.Event) -> Iterator[None]:
    """While the block runs, SIGTERM sets ``stop`` (the previous handler comes back after)."""
    # A service manager stops `watch` with SIGTERM: end after the current cycle, not inside it.
    try:
        previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    except ValueError:  # not the main thread (embedded use): Ctrl-C still works
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
