"""The pool claim's query plan cases of tests/_pool_claim_cases.py on PostgreSQL."""

import pytest
from _pool_claim_cases import *  # noqa: F401,F403  (the test functions)

pytestmark = pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
