"""Where the repository's sources and the shared data are, and what a missing service means here."""

from __future__ import annotations

import os

import pytest

from carelake.settings import PROJECT_ROOT

REPO_SOURCES = PROJECT_ROOT / "sources"
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"
DESYNPUF = SHARED_DATA / "desynpuf"

IN_CI = os.environ.get("CI") == "true"
# The HMAC key PHI tokens are made with, as the Makefile sets it for the embedded profile.
os.environ.setdefault("CARELAKE_HMAC_KEY", "test-key-not-a-secret")


def unavailable(message: str) -> None:
    """A service or data set the test needs is not there: a skip on a developer's machine, a failure in CI."""
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)
