"""The migration cases of tests/_migrations_cases.py on PostgreSQL (the session's database)."""

import pytest
from _migrations_cases import *  # noqa: F401,F403  (the test functions)

pytestmark = pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
