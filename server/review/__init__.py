"""Review: the checks of every complete record, the cases they open, and the office's decisions.

Also the office's dashboard, review queue, records list and record page (HTML and JSON), and
``jemput-server run-checks`` / ``verify-audit``.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Blueprints, commands, and the receivers of sync's signals: check the records it
    completes, close the cases of the records it replaced."""
    from server.core.jobs import runner
    from server.http import openapi
    from server.review import api, checks, cli, decisions, schemas, views
    from server.sync import signals

    app.register_blueprint(api.bp)
    app.register_blueprint(views.bp)
    openapi.describe(app, schemas.OPERATIONS)
    for command in cli.COMMANDS:
        app.cli.add_command(command)

    signals.records_completed.connect(checks.check_completed, sender=app)
    runner.register(checks.CHECK_RECORDS, checks.check_records_job, batch=checks.CHECK_BATCH)
    runner.register(checks.CHECK_ALL, checks.check_all_job)
    signals.records_replaced.connect(decisions.clear_replaced, sender=app)
