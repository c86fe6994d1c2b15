"""The ledger and sync cases of tests/_ledger_cases.py on PostgreSQL (the session's database)."""

import pytest
from _ledger_cases import *  # noqa: F401,F403  (the test functions and their helpers)

pytestmark = pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
