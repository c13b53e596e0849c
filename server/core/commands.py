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
def progress_bar(desc: str, unit: str = "B") -> Iterator[Callable[[int, int], None] | None]:
    """A tqdm bar (bytes by default) on a terminal, nothing when output goes to a file or a
    test."""
    if not sys.stderr.isatty():
        yield None
        return
    with tqdm(unit=unit, unit_scale=unit == "B", desc=desc) as bar:

        def update(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        yield update


def finished_result(job: Any) -> dict[str, Any]:
    """The result of a background job a command ran or followed; a plain error (exit 1) when
    it failed or waits for a retry."""
    if job.state == "done":
        return dict(job.result or {})
    if job.state == "failed":
        raise click.ClickException(f"Pekerjaan #{job.id} gagal: {job.error}")
    raise click.ClickException(f"Pekerjaan #{job.id} belum berhasil ({job.error or 'berjalan'}); "
                               "pekerja mengulanginya. Lihat jemput-server jobs.")


def echo_limited(lines: list[str], what: str, total: int | None = None) -> None:
    """Up to ``MAX_LISTED`` lines on stderr, then how many more ``what`` there were (of
    ``total`` when only the first ones were kept)."""
    for line in lines[:MAX_LISTED]:
        click.echo(f"  {line}", err=True)
    more = (len(lines) if total is None else total) - MAX_LISTED
    if more > 0:
        click.echo(f"  ... dan {more} {what} lagi.", err=True)


def echo_json(value: Any) -> None:
    """What a ``--json`` option prints: ``value`` as indented JSON, times in ISO 8601 UTC."""
    click.echo(json.dumps(jsonable(value), indent=1, ensure_ascii=False))
