"""The ledger and sync cases of tests/_ledger_cases.py on SQLite (the unit layer's ``db``)."""

from _ledger_cases import *  # noqa: F401,F403  (the test functions and their helpers)
