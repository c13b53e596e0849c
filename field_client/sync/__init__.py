"""Talking to the office: the sync engine (push, uploads, pull), its report, the HTTP transport,
tus uploads, what a failed answer means, and ``watch``."""
