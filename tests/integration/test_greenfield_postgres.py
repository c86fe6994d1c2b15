"""The Greenfield API cases of tests/_greenfield_cases.py on PostgreSQL (the session's database)."""

import pytest
from _greenfield_cases import *  # noqa: F401,F403  (the test functions and their helpers)

pytestmark = pytest.mark.parametrize("db_url", ["postgres"], indirect=True)


@pytest.fixture
def greenfield_url(db_url):
    return db_url
