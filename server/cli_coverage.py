"""``jemput-server`` commands for coverage (registered by server/cli.py)."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
