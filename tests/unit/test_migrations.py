"""The migration cases of tests/_migrations_cases.py on SQLite (the unit layer's ``db``)."""

from _migrations_cases import *  # noqa: F401,F403  (the test functions)
