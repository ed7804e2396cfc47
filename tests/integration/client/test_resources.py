"""A closed or failed WebSocket leaves no thread and no socket behind."""

from __future__ import annotations

import os
from collections.abc import Callable

from runner.client import WebSocket, create_websocket
from tests.integration.client.recorder import Recorder, free_port, wait_until, ws_threads
from tests.rawpeer import OP_TEXT, RawPeer
from tests.support import echo, timeout, url_of, websockets_server


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


#: Every WebSocket made, kept alive so that a socket it leaks stays open and is counted.
KEPT: list[WebSocket] = []


def make() -> WebSocket:
    ws = create_websocket()
    KEPT.append(ws)
    return ws


def closed_normally(url: str, _: RawPeer) -> None:
    ws = make()
    recorder = Recorder(ws)
    ws.connect(url).result(timeout())
    ws.send(b"x" * 70000)
    recorder.messages(1)
    ws.close()
    recorder.closed()


def refused(url: str, _: RawPeer) -> None:
    ws = make()
    ws.connect(f"ws://127.0.0.1:{free_port()}/").exception(timeout())


def rejected_url(url: str, _: RawPeer) -> None:
    make().connect("http://127.0.0.1/").exception(timeout())


def link_lost(url: str, peer: RawPeer) -> None:
    ws = make()
    recorder = Recorder(ws)
    ws.connect(peer.url)
    peer.accept().reset()
    recorder.closed()


def protocol_violation(url: str, peer: RawPeer) -> None:
    ws = make()
    recorder = Recorder(ws)
    ws.connect(peer.url, {"closeTimeout": 0.2})
    conn = peer.accept()
    conn.send_frame(OP_TEXT, b"\xff")
    recorder.closed()
    conn.close()


def handshake_timeout(url: str, peer: RawPeer) -> None:
    ws = make()
    future = ws.connect(peer.url, {"timeout": 0.2})
    conn = peer.accept(handshake=False)
    future.exception(timeout())
    conn.close()


def aborted(url: str, _: RawPeer) -> None:
    ws = make()
    recorder = Recorder(ws)
    ws.connect(url).result(timeout())
    ws.abort()
    recorder.closed()


LIVES: list[Callable[[str, RawPeer], None]] = [
    closed_normally,
    refused,
    rejected_url,
    link_lost,
    protocol_violation,
    handshake_timeout,
    aborted,
]


def test_no_thread_and_no_socket_left_over_many_connections() -> None:
    with websockets_server(echo) as server, RawPeer() as peer:
        url = url_of(server)
        closed_normally(url, peer)  # warm up: imports, lazily created objects
        assert wait_until(lambda: not ws_threads(), timeout(2))
        before = open_fds()
        for _ in range(3):
            for life in LIVES:
                life(url, peer)
        assert wait_until(lambda: not ws_threads(), timeout(2)), ws_threads()
        # The server's and peer's sides close soon after; the client's must already be gone.
        assert wait_until(lambda: open_fds() <= before, timeout(2)), (before, open_fds())
    assert len(KEPT) == 1 + 3 * len(LIVES)
    KEPT.clear()


def test_thread_is_named_after_the_url_and_ends_after_close() -> None:
    with websockets_server(echo) as server:
        ws = create_websocket()
        recorder = Recorder(ws)
        ws.connect(url_of(server, "/named")).result(timeout())
        names = [thread.name for thread in ws_threads()]
        assert names == [f"wsrun-ws {url_of(server, '/named')}"]
        thread = ws_threads()[0]
        assert thread.daemon
        ws.close()
        recorder.closed()
        thread.join(timeout(2))
        assert not thread.is_alive()


def test_failed_connect_leaves_no_thread() -> None:
    ws = make()
    ws.connect(f"ws://127.0.0.1:{free_port()}/").exception(timeout())
    assert wait_until(lambda: not ws_threads(), timeout(2))
