"""``jemput-server`` commands for the Surat Keterangan (Suket) (registered by server/cli.py)."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
