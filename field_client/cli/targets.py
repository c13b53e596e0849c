"""``jemput-field targets``: the outreach target list on this device, searched offline."""

from __future__ import annotations

import argparse
import json
from typing import Any

from field_client.cli.args import add_pin_option, command, unlock
from field_client.cli.text import out, target_line, visit_line
from field_client.client import FieldClient

HEADER = f"{'NIK':<16}  {'NAMA':<40}  {'TGL LAHIR':<10}  DIREKAM"


def add_targets(commands: Any) -> None:
    """Add the ``targets`` subcommand."""
    targets = command(
        commands, "targets", "daftar sasaran kunjungan jemput bola (tanpa sinyal)", _targets
    )
    targets.add_argument(
        "--search",
        metavar="TEKS",
        help="sebagian nama atau NIK (huruf besar/kecil dan aksen diabaikan)",
    )
    targets.add_argument("--visit", metavar="ID", help="hanya kunjungan ini")
    targets.add_argument("--json", action="store_true", help="keluaran JSON")
    targets.add_argument("--operator", help="operator yang masuk dengan PIN-nya")
    add_pin_option(targets)


def _targets(client: FieldClient, args: argparse.Namespace) -> int:
    data_key = unlock(client, args).data_key
    rows = client.targets(args.search, args.visit, data_key=data_key)
    visits = [v for v in client.visits(data_key) if args.visit in (None, v["id"])]
    if args.json:
        out(json.dumps({"visits": visits, "targets": rows}, ensure_ascii=False, indent=2))
        return 0
    if not visits:
        out(
            "Belum ada daftar sasaran di perangkat ini. Daftar sasaran datang lewat "
            "'jemput-field sync' setelah kantor membuat kunjungan untuk perangkat ini."
        )
        return 0
    for visit in visits:
        mine = [row for row in rows if row["visit_id"] == visit["id"]]
        out(visit_line(visit))
        if mine:
            out(HEADER)
            for row in mine:
                out(target_line(row))
        out("")
    if args.search is not None:
        out(f"{len(rows)} sasaran cocok dengan '{args.search}'.")
    else:
        out(f"{len(rows)} sasaran.")
    return 0
