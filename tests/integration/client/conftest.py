"""Fixtures of the client tests; every test must leave no connection thread behind (issue 2)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from websockets.sync.server import Server

from runner.client import WebSocket, create_websocket
from tests.integration.client.recorder import wait_until, ws_threads
from tests.rawpeer import RawPeer
from tests.support import echo, timeout, websockets_server


@pytest.fixture(autouse=True)
def no_thread_left() -> Iterator[None]:
    """After each test, every `wsrun-ws ...` thread ends within a bounded wait."""
    yield
    assert wait_until(lambda: not ws_threads(), timeout(3)), f"threads left: {ws_threads()}"


@pytest.fixture
def ws() -> Iterator[WebSocket]:
    """A WebSocket, dropped and waited for at the end of the test."""
    socket = create_websocket()
    try:
        yield socket
    finally:
        socket.abort()
        socket.wait_closed(timeout())


@pytest.fixture
def peer() -> Iterator[RawPeer]:
    """A raw RFC 6455 peer on 127.0.0.1, port 0."""
    with RawPeer() as raw:
        yield raw


@pytest.fixture
def echo_server() -> Iterator[Server]:
    """A `websockets` echo server on 127.0.0.1, port 0."""
    with websockets_server(echo) as server:
        yield server
