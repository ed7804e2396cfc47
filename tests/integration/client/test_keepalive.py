"""Keepalive: `pingInterval` pings, `pongTimeout` failures, 0 disables."""

from __future__ import annotations

import itertools
import time

from runner.client import CloseResult, WebSocket
from tests.integration.client.recorder import open_raw
from tests.rawpeer import OP_PING, OP_PONG, OP_TEXT, PeerConnection, RawPeer
from tests.support import timeout


def pings_within(conn: PeerConnection, seconds: float, answer: bool) -> list[float]:
    """Read for `seconds`; return when each ping came (answering it when `answer`)."""
    started = time.monotonic()
    seen: list[float] = []
    while (left := started + seconds - time.monotonic()) > 0:
        try:
            frame = conn.recv_frame(left)
        except TimeoutError:
            break
        if frame.opcode == OP_PING:
            seen.append(time.monotonic() - started)
            assert frame.masked and len(frame.payload) <= 125
            if answer:
                conn.send_frame(OP_PONG, frame.payload)
    return seen


def test_ping_interval_sends_pings_and_pongs_keep_it_open(ws: WebSocket, peer: RawPeer) -> None:
    recorder, conn = open_raw(ws, peer, {"pingInterval": 0.2, "pongTimeout": 0.15})
    pings = pings_within(conn, 1.0, answer=True)
    assert 3 <= len(pings) <= 6, pings
    gaps = [later - earlier for earlier, later in itertools.pairwise(pings)]
    assert all(gap > 0.1 for gap in gaps), gaps
    assert recorder.of("error") == [] and recorder.of("close") == []
    conn.send_frame(OP_TEXT, b"still open")
    assert recorder.messages(1) == ["still open"]
    conn.close_handshake()
    assert recorder.closed().was_clean


def test_no_pong_within_pong_timeout_is_error_then_close_1006(ws: WebSocket, peer: RawPeer) -> None:
    recorder, conn = open_raw(ws, peer, {"pingInterval": 0.2, "pongTimeout": 0.2})
    started = time.monotonic()
    assert pings_within(conn, 0.3, answer=False)
    closed = recorder.closed(timeout(2))
    elapsed = time.monotonic() - started
    assert closed == CloseResult(1006, closed.reason, was_clean=False)
    assert recorder.error().code == 200
    assert recorder.names()[-2:] == ["error", "close"]
    assert 0.3 <= elapsed < 0.4 + timeout(1)
    assert conn.wait_eof()


def test_pong_timeout_zero_waits_forever(ws: WebSocket, peer: RawPeer) -> None:
    recorder, conn = open_raw(ws, peer, {"pingInterval": 0.1, "pongTimeout": 0})
    assert len(pings_within(conn, 0.6, answer=False)) >= 3
    assert recorder.of("error") == [] and recorder.of("close") == []
    conn.close_handshake()


def test_ping_interval_zero_sends_no_ping(ws: WebSocket, peer: RawPeer) -> None:
    recorder, conn = open_raw(ws, peer, {"pingInterval": 0, "pongTimeout": 0.1})
    assert pings_within(conn, 0.8, answer=False) == []
    assert recorder.of("error") == []
    conn.close_handshake()


def test_default_options_send_no_ping_soon(ws: WebSocket, peer: RawPeer) -> None:
    recorder, conn = open_raw(ws, peer, None)  # default pingInterval: 30 s
    assert pings_within(conn, 0.4, answer=False) == []
    conn.close_handshake()
    assert recorder.closed().code == 1000


def test_no_keepalive_ping_while_closing(ws: WebSocket, peer: RawPeer) -> None:
    recorder, conn = open_raw(ws, peer, {"pingInterval": 0.1, "closeTimeout": 0.5})
    ws.close()
    assert conn.recv_close().close_code == 1000
    assert pings_within(conn, 0.3, answer=False) == []
    conn.send_close(1000)
    conn.close()
    assert recorder.closed().was_clean
