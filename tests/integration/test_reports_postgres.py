"""The reports' row cases of tests/_reports_cases.py on PostgreSQL (the session's database)."""

import pytest
from _reports_cases import *  # noqa: F401,F403  (the test functions)

pytestmark = pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
