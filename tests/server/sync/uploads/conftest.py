"""The upload tests run over both blob stores: the folder and an S3 bucket (SeaweedFS).

Tests that look at the folder store's files themselves (modes, fsync faults, partial paths)
are skipped on S3 by :func:`tests.support.uploads.store`.
"""

from __future__ import annotations

import pytest

from tests.support.seaweed import fresh_prefix, s3_config, s3_env, seaweed

__all__ = ["s3_env", "seaweed"]  # the fixtures, used by name


@pytest.fixture(params=["folder", "s3"])
def blob_config(request: pytest.FixtureRequest) -> dict[str, str]:
    """The folder store (no extra configuration), or a fresh prefix of the test bucket."""
    if request.param == "folder":
        return {}
    return s3_config(request.getfixturevalue("s3_env"), fresh_prefix())
