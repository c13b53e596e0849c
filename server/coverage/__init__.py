"""Coverage: per kabupaten, kecamatan and desa, who must hold an e-KTP and who is recorded."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the coverage blueprints and commands, the summary's job and its triggers."""
    from server.core.jobs import runner
    from server.coverage import api, cli, schemas, summary, views
    from server.http import openapi

    app.register_blueprint(api.bp)
    app.register_blueprint(views.bp)
    openapi.describe(app, schemas.OPERATIONS)
    for command in cli.COMMANDS:
        app.cli.add_command(command)
    # The summary the pages read: refreshed by a job, queued when the figures may have moved.
    runner.register(summary.REFRESH_COVERAGE, summary.refresh_job)
    runner.after_done(summary.after_job)
