"""``jemput-server`` commands for outreach planning (registered by server/cli.py)."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
