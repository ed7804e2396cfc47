"""`TestServer`: start, stop, ports, threads, and what connections see when it stops."""

from __future__ import annotations

import threading

import pytest
from websockets.exceptions import ConnectionClosed

from runner.server import TestServer
from tests.integration.server.clients import open_ws
from tests.support import timeout


def server_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "wsrun-test-server"]


def test_start_picks_a_free_port_and_stop_ends_the_thread() -> None:
    before = len(server_threads())
    server = TestServer().start()
    try:
        assert server.port > 0
        assert server.url == f"ws://127.0.0.1:{server.port}"
        assert len(server_threads()) == before + 1
    finally:
        server.stop()
    assert len(server_threads()) == before


def test_stop_is_idempotent_and_port_is_unknown_after() -> None:
    server = TestServer()
    server.stop()  # never started: nothing to do
    server.start()
    server.stop()
    server.stop()
    with pytest.raises(RuntimeError, match="not running"):
        _ = server.port


def test_a_taken_port_raises_oserror_from_start() -> None:
    with TestServer() as first:
        with pytest.raises(OSError):
            TestServer(port=first.port).start()
        assert len(server_threads()) == 1


def test_start_twice_is_an_error() -> None:
    with TestServer() as server, pytest.raises(RuntimeError, match="already started"):
        server.start()


def test_stop_closes_open_connections_with_1001() -> None:
    server = TestServer().start()
    try:
        ws = open_ws(server, "/echo")
    finally:
        server.stop()
    with ws, pytest.raises(ConnectionClosed):
        ws.recv(timeout=timeout())
    assert ws.close_code == 1001


def test_two_servers_run_side_by_side() -> None:
    with TestServer() as one, TestServer() as two:
        assert one.port != two.port
        for server in (one, two):
            with open_ws(server, "/echo") as ws:
                ws.send(str(server.port))
                assert ws.recv(timeout=timeout()) == str(server.port)
