"""The overview's totals of tests/_rollup_cases.py on PostgreSQL (the session's database)."""

import pytest
from _rollup_cases import *  # noqa: F401,F403  (the test functions)

pytestmark = pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
