"""Biometric file availability, as the ingest needs it."""

from __future__ import annotations

from collections.abc import Iterable


def missing_blobs(sha256s: Iterable[str]) -> set[str]:
    """The hashes among ``sha256s`` whose bytes the server does not hold yet.

    Files arrive by tus uploads (a later issue); until the blob store exists none is held.
    Plug the blob lookup in here: one query per push batch, never one per file.
    """
    return set(sha256s)
