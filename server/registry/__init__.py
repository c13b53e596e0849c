"""Registry: the reference data every check and report reads.

Kemendagri region codes (the bundled Sekadau rows and imports of the national table), the SIAK
population registry and its import, and who must hold an e-KTP (wajib KTP).
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the registry commands and the population import job."""
    from server.core.jobs import runner
    from server.registry import cli, imports

    for command in cli.COMMANDS:
        app.cli.add_command(command)
    runner.register(imports.IMPORT_POPULATION, imports.import_population_job,
                    finished=imports.forget_file)
