"""Logging, configured once per process."""

from __future__ import annotations

import logging

from flask import Flask

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def init_app(app: Flask) -> None:
    """Send logs to stderr unless the host (gunicorn, pytest) configured logging already."""
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=app.config["JEMPUT_LOG_LEVEL"], format=FORMAT)
