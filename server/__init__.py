"""Jemput server: the central office's Flask application."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

from server import api, cli, review, web
from server.core import blobstore, config, extensions, logs
from server.http import problems


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app: configuration, logging, extensions, error handlers, blueprints, CLI."""
    app = Flask(__name__, instance_path=config.instance_path())
    config.load(app, test_config)
    logs.init_app(app)
    extensions.init_app(app)
    blobstore.init_app(app)
    problems.init_app(app)
    review.init_app(app)
    api.init_app(app)
    web.init_app(app)
    cli.init_app(app)
    return app
