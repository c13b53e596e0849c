"""``jemput-server`` commands for blank cards and printing (registered by server/cli.py)."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
