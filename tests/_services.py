"""What a test does when a node or service it needs is missing: skip, or fail when
TRANSIENT_REQUIRE_SERVICES=1 says every service must be there (CI sets it)."""

import os

import pytest

REQUIRE_SERVICES = os.environ.get("TRANSIENT_REQUIRE_SERVICES") == "1"


def _missing(reason):
    """Skip, or fail when TRANSIENT_REQUIRE_SERVICES=1 says every service must be there."""
    if REQUIRE_SERVICES:
        pytest.fail(reason + " (TRANSIENT_REQUIRE_SERVICES=1)")
    pytest.skip(reason)
