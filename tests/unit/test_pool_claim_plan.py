"""The pool claim's query plan cases of tests/_pool_claim_cases.py on SQLite."""

from _pool_claim_cases import *  # noqa: F401,F403  (the test functions)
