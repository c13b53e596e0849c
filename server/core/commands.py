"""What every ``jemput-server`` command shares: domain errors as plain messages, a progress bar.

Each command parses its arguments, calls one service function and prints the result; a
``JemputError`` becomes a plain message and exit status 1, never a traceback.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click
from tqdm import tqdm

from server.core.errors import JemputError
from server.core.serialize import jsonable

#: Refused rows, problems and the like a command lists before it says "... and N more".
MAX_LISTED = 50


@contextmanager
def plain_errors() -> Iterator[None]:
    """A domain error becomes ``Error: ...`` on stderr and exit status 1, never a traceback.

    A context manager around one call, or (as ``@plain_errors()``) a whole command.
    """
    try:
        yield
    except JemputError as exc:
        raise click.ClickException(exc.detail) from exc


@contextmanager
def progress_bar(desc: str) -> Iterator[Callable[[int, int], None] | None]:
    """A byte-based tqdm bar on a terminal, nothing when output goes to a file or a test."""
    if not sys.stderr.isatty():
        yield None
        return
    with tqdm(unit="B", unit_scale=True, desc=desc) as bar:

        def update(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        yield update


def echo_limited(lines: list[str], what: str) -> None:
    """Up to ``MAX_LISTED`` lines on stderr, then how many more ``what`` there were."""
    for line in lines[:MAX_LISTED]:
        click.echo(f"  {line}", err=True)
    if len(lines) > MAX_LISTED:
        click.echo(f"  ... dan {len(lines) - MAX_LISTED} {what} lagi.", err=True)


def echo_json(value: Any) -> None:
    """What a ``--json`` option prints: ``value`` as indented JSON, times in ISO 8601 UTC."""
    click.echo(json.dumps(jsonable(value), indent=1, ensure_ascii=False))
