"""The kept delivery targets' cases of tests/_target_cache_cases.py on SQLite."""

from _target_cache_cases import *  # noqa: F401,F403  (the test functions)
