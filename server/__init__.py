"""Jemput server: the central office's Flask application.

One package per domain, lowest first: ``registry`` < ``accounts`` < ``sync`` < ``review`` <
``coverage`` < ``outreach`` < ``cards`` < ``demo``; below them ``core`` (configuration,
database, models, audit chain, blob store) and ``http`` (web plumbing). A domain imports only
from below it (``make lint`` checks this).
"""

from __future__ import annotations

import gc
from collections.abc import Mapping
from typing import Any

from flask import Flask


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app: configuration, logging, database, blob store, web plumbing, domains."""
    from server import accounts, cards, coverage, demo, http, outreach, registry, review, sync
    from server.core import blobstore, config, extensions, jobs, keyring, logs
    from server.http import proxies

    app = Flask(__name__, instance_path=config.instance_path(),
                static_folder="http/static", template_folder="http/templates")
    config.load(app, test_config)
    # X-Forwarded-* only from JEMPUT_TRUSTED_PROXIES: the client's address, scheme and host.
    proxies.init_app(app)
    logs.init_app(app)
    extensions.init_app(app)
    blobstore.init_app(app)
    keyring.init_app(app)
    jobs.init_app(app)
    http.init_app(app)
    for domain in (registry, accounts, sync, review, coverage, outreach, cards, demo):
        domain.init_app(app)
    if not app.testing:
        # What start-up made (modules, the app, mappers) lives as long as the process: out of
        # the cyclic collector's sight, the full collections a push's many objects set off
        # stay short (issue 19). Tests make many apps and leave them to be collected.
        gc.freeze()
    return app
