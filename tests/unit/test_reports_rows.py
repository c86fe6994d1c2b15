"""The reports' row cases of tests/_reports_cases.py on SQLite (the unit layer's ``db``)."""

from _reports_cases import *  # noqa: F401,F403  (the test functions)
