"""``jemput-field fix``: correct a record the office sent back (parse, call, print)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from field_client.cli.args import (
    add_biometric_options,
    add_pin_option,
    biometric_inputs,
    command,
    read_json_object,
    setting,
    unique,
    unlock,
)
from field_client.cli.text import out
from field_client.client import FieldClient
from shared.schemas import PAYLOAD_FIELDS
from shared.vocab import BIOMETRIC_ROLES, EXCEPTION_REASONS


def add_fix(commands: Any) -> None:
    """Add the ``fix`` subcommand."""
    fix = command(
        commands, "fix", "perbaiki rekaman yang dikembalikan kantor (status perlu perbaikan)", _fix
    )
    fix.add_argument("record", metavar="ID", help="id rekaman, atau nomor seq-nya")
    fix.add_argument(
        "--set",
        dest="changes",
        action="append",
        type=setting,
        default=[],
        metavar="KOLOM=NILAI",
        help="ubah satu kolom data kartu; KOLOM: " + ", ".join(PAYLOAD_FIELDS),
    )
    fix.add_argument(
        "--json", type=Path, metavar="BERKAS", help="berkas JSON berisi kolom yang diubah"
    )
    add_biometric_options(
        fix,
        files_help=f"ganti berkas biometrik; PERAN: {', '.join(BIOMETRIC_ROLES)}",
        exceptions_help="biometrik yang tidak dapat direkam; ALASAN: "
        + ", ".join(EXCEPTION_REASONS),
    )
    fix.add_argument("--operator", help="operator yang masuk dengan PIN-nya (bawaan: operator "
                     "tersimpan)")
    add_pin_option(fix)


def _fix(client: FieldClient, args: argparse.Namespace) -> int:
    changes: dict[str, Any] = read_json_object(args.json) if args.json else {}
    changes.update(unique(args.changes, "--set"))
    files, exceptions = biometric_inputs(args)
    who = unlock(client, args)
    saved = client.fix(
        args.record,
        changes,
        files=files,
        exceptions=exceptions,
        operator=who.username,
        data_key=who.data_key,
    )
    out(
        f"Perbaikan tersimpan aman di antrean: rekaman {saved.id} (seq {saved.seq}) "
        f"menggantikan {args.record}; rekaman lama kini berstatus diganti versi baru."
    )
    for warning in saved.warnings:
        out(f"Peringatan: {warning['message']}")
    out("Kirim ke server: jemput-field sync")
    return 0
