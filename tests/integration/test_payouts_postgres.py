"""The payouts service's cases of tests/_payouts_cases.py on PostgreSQL (the session's
database): racing claims and the daily cap under the coin's advisory lock."""

import pytest
from _payouts_cases import *  # noqa: F401,F403  (the test functions and their helpers)

pytestmark = pytest.mark.parametrize("db_url", ["postgres"], indirect=True)


@pytest.fixture
def payouts_url(db_url):
    return db_url
