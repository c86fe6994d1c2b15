"""The regtest layer: tests that need the litecoind regtest node (the session's ``regtest``
fixture), in-process. Every test collected here is marked ``regtest``."""

import pathlib

import pytest

HERE = pathlib.Path(__file__).resolve().parent


def pytest_collection_modifyitems(config, items):
    for item in items:
        if HERE in item.path.resolve().parents:
            item.add_marker(pytest.mark.regtest)
