"""The integration layer: the machine's PostgreSQL and RabbitMQ and HTTP servers on loopback,
in-process (no coin node, no transientd process). Every test collected here is marked ``integration``."""

import pathlib

import pytest

HERE = pathlib.Path(__file__).resolve().parent


def pytest_collection_modifyitems(config, items):
    for item in items:
        if HERE in item.path.resolve().parents:
            item.add_marker(pytest.mark.integration)
