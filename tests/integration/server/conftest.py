"""A built-in test server per test module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from runner.server import TestServer


@pytest.fixture(scope="module")
def server() -> Iterator[TestServer]:
    """The built-in server on 127.0.0.1, port 0, stopped after the module's tests."""
    with TestServer() as running:
        yield running
