"""Every client test must leave no connection thread behind (issue 2: no thread left)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.client.recorder import wait_until, ws_threads
from tests.support import timeout


@pytest.fixture(autouse=True)
def no_thread_left() -> Iterator[None]:
    """After each test, every `wsrun-ws ...` thread ends within a bounded wait."""
    yield
    assert wait_until(lambda: not ws_threads(), timeout(3)), f"threads left: {ws_threads()}"
