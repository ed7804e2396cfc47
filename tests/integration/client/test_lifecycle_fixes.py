"""Reconnecting from the last listener, aborting a handshake, oversized frame headers."""

from __future__ import annotations

import struct
import time

import pytest

from runner.client import BusinessError, CloseResult, WebSocket
from tests.integration.client.recorder import Recorder
from tests.rawpeer import OP_BINARY, RawPeer
from tests.support import echo, timeout, url_of, websockets_server


def test_the_close_listener_can_connect_again(ws: WebSocket) -> None:
    with websockets_server(echo) as server:
        outcomes: list[object] = []

        def reconnect(err: object, value: CloseResult) -> None:
            if not outcomes:
                ws.connect(url_of(server), lambda err, ok: outcomes.append(err or ok))

        ws.on("close", reconnect)
        assert ws.connect(url_of(server)).result(timeout()) is True
        ws.close().result(timeout())
        deadline = time.monotonic() + timeout()
        while not outcomes and time.monotonic() < deadline:
            time.sleep(0.01)
        assert outcomes == [True]
        assert ws.ready_state == "OPEN"
        ws.close()
        assert ws.wait_closed(timeout())


def test_the_error_listener_of_a_failed_connect_can_connect_again(ws: WebSocket) -> None:
    with RawPeer() as refused:
        dead_url = refused.url
    with websockets_server(echo) as server:
        outcomes: list[object] = []
        ws.on(
            "error",
            lambda err: (
                outcomes or ws.connect(url_of(server), lambda e, ok: outcomes.append(e or ok))
            ),
        )
        failed = ws.connect(dead_url)
        with pytest.raises(BusinessError):
            failed.result(timeout())
        deadline = time.monotonic() + timeout()
        while not outcomes and time.monotonic() < deadline:
            time.sleep(0.01)
        assert outcomes == [True]


def test_abort_interrupts_a_handshake_at_once(ws: WebSocket) -> None:
    with RawPeer() as peer:
        recorder = Recorder(ws)
        future = ws.connect(peer.url, {"timeout": 30})
        peer.accept(handshake=False)  # TCP is up; the upgrade is never answered
        time.sleep(0.05)
        started = time.monotonic()
        ws.abort()
        with pytest.raises(BusinessError) as caught:
            future.result(timeout())
        assert time.monotonic() - started < 2
        assert (caught.value.code, caught.value.message, caught.value.data) == (
            200,
            "connection aborted",
            "0",
        )
        assert recorder.error().message == "connection aborted"
        assert "close" not in recorder.names()


def test_a_frame_announcing_more_than_max_message_size_fails_before_its_payload(
    ws: WebSocket,
) -> None:
    with RawPeer() as peer:
        recorder = Recorder(ws)
        future = ws.connect(peer.url, {"pingInterval": 0, "maxMessageSize": 100})
        conn = peer.accept()
        assert future.result(timeout()) is True
        # A binary frame header announcing 2**40 bytes, then only 1000 of them.
        conn.sock.sendall(bytes([0x80 | OP_BINARY, 127]) + struct.pack("!Q", 2**40) + b"x" * 1000)
        close = conn.recv_close(timeout())
        assert close.close_code == 1009
        conn.sock.sendall(b"y" * 100_000)  # the rest of the frame is read and dropped,
        conn.close()  # until the peer closes: no reset
        result = recorder.closed(timeout())
        assert (result.code, result.was_clean) == (1009, False)
        assert "maxMessageSize" in recorder.error().message
