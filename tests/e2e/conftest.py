"""End-to-end fixtures: a real server process (gunicorn), the real field client CLI.

The processes themselves are in tests/support/processes.py (shared with the benchmarks): the
server runs as its own process group so a test can ``kill -9`` it mid-push and start it again
on the same database; the client runs as ``jemput-field`` subprocesses.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.processes import FieldCLI, ServerProcess


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    """An initialised server process on SQLite in a fresh instance folder."""
    proc = ServerProcess.initialised(tmp_path / "instance")
    yield proc
    proc.stop()


@pytest.fixture
def field(tmp_path: Path) -> FieldCLI:
    home = tmp_path / "field-home"
    return FieldCLI(home)
