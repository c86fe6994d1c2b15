"""The end-to-end layer: tests that start transientd, the ``transient`` CLI, litecoind of a
devnet or pip as processes. Every test collected here is marked ``e2e``."""

import pathlib

import pytest

HERE = pathlib.Path(__file__).resolve().parent


def pytest_collection_modifyitems(config, items):
    for item in items:
        if HERE in item.path.resolve().parents:
            item.add_marker(pytest.mark.e2e)
