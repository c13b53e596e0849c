"""Security headers on everything a browser opens: the office pages (login, error pages, photo
and file downloads), the public ``/verify`` page, ``/`` and the static files.

The JSON API under ``/api/v1`` is read by programs and keeps its own headers.
"""

from __future__ import annotations

from flask import Flask, Response, request

from shared.protocol import API_PREFIX

#: No script but the office's own files (there are none today), nothing inline, no plugin, no
#: framing by another site, forms only back to this server.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
#: A PDF this server made (the Suket): Chrome shows a PDF in a viewer the document's own
#: ``object-src`` and ``default-src`` would block (crbug.com/271452), so it is never framed
#: elsewhere but keeps no content directives. Devices cannot upload a PDF (shared/vocab.py).
PDF_CSP = "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    # Links inside the office keep their referrer (error pages offer "back"); none leaves it.
    "Referrer-Policy": "same-origin",
}


def secure(response: Response) -> Response:
    """Add the headers a view did not set itself (``/verify`` chooses ``no-referrer``)."""
    if request.path.startswith(API_PREFIX + "/") or request.path == API_PREFIX:
        return response
    policy = PDF_CSP if response.mimetype == "application/pdf" else CSP
    response.headers.setdefault("Content-Security-Policy", policy)
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    if request.path.startswith("/office") and "Cache-Control" not in response.headers:
        # Residents' data: no copy in the browser's cache of a shared office PC.
        response.headers["Cache-Control"] = "no-store"
    return response


def init_app(app: Flask) -> None:
    """Run :func:`secure` on every answer: pages, redirects, error pages and files."""
    app.after_request(secure)
