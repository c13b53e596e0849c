"""How a ``jemput-server`` command reports a domain error (used by the server/cli_*.py modules).

Its own module because server/cli.py imports the ``cli_*`` command modules, so they cannot
import server/cli.py's ``user_errors`` (the same translation, as a decorator) back.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click

from server.core.errors import JemputError


@contextmanager
def plain_errors() -> Iterator[None]:
    """A domain error becomes ``Error: ...`` on stderr and exit status 1, never a traceback."""
    try:
        yield
    except JemputError as exc:
        raise click.ClickException(exc.detail) from exc

