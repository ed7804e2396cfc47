"""Closing: default code, echoed status, peer-initiated close, lost links, handshake timeout."""

from __future__ import annotations

import contextlib
import threading
import time

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.server import ServerConnection

from runner.client import CloseResult, WebSocket, create_websocket
from tests.integration.client.recorder import Recorder, open_raw, outcome, wait_until
from tests.rawpeer import OP_CLOSE, PeerConnection, RawPeer
from tests.support import echo, timeout, url_of, websockets_server


def test_close_defaults_to_1000(ws: WebSocket, peer: RawPeer) -> None:
    recorder, conn = open_raw(ws, peer)
    ws.close()
    frame = conn.recv_frame()
    assert (frame.opcode, frame.close_code, frame.payload[2:]) == (OP_CLOSE, 1000, b"")
    assert frame.masked
    conn.send_close(1000)
    conn.close()
    assert recorder.closed() == CloseResult(1000, "", was_clean=True)


def test_close_code_and_reason_are_sent_and_echoed(ws: WebSocket) -> None:
    seen: list[tuple[int | None, str | None]] = []

    def record(conn: ServerConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            echo(conn)
        seen.append((conn.close_code, conn.close_reason))

    with websockets_server(record) as server:
        recorder = Recorder(ws)
        ws.connect(url_of(server)).result(timeout())
        assert outcome(ws.close({"code": 4321, "reason": "bye ✓"}), None) == (None, True)
        assert recorder.closed() == CloseResult(4321, "bye ✓", was_clean=True)
        assert wait_until(lambda: bool(seen))
    assert seen == [(4321, "bye ✓")]
    assert recorder.names() == ["headerReceive", "open", "close"]


def test_the_peers_close_status_is_reported_when_it_differs(ws: WebSocket, peer: RawPeer) -> None:
    recorder, conn = open_raw(ws, peer)
    ws.close({"code": 1000, "reason": "client"})
    assert conn.recv_close().close_reason == "client"
    conn.send_close(1001, b"server")
    conn.close()
    # RFC 6455 §7.1.5: the status is the one of the first Close frame *received*.
    assert recorder.closed() == CloseResult(1001, "server", was_clean=True)


def test_server_initiated_close_with_code_and_reason(ws: WebSocket) -> None:
    def close_with_status(conn: ServerConnection) -> None:
        conn.recv()
        conn.close(4100, "server says bye")

    with websockets_server(close_with_status) as server:
        recorder = Recorder(ws)
        ws.connect(url_of(server)).result(timeout())
        ws.send("go")
        assert recorder.closed() == CloseResult(4100, "server says bye", was_clean=True)
    assert recorder.of("error") == []
    assert ws.ready_state == "CLOSED"


def test_server_initiated_close_is_echoed_with_its_code(ws: WebSocket, peer: RawPeer) -> None:
    recorder, conn = open_raw(ws, peer)
    conn.send_close(1012, b"restart")
    echo_frame = conn.recv_close()
    assert echo_frame.close_code == 1012  # RFC 6455 §5.5.1
    assert echo_frame.masked
    conn.close()
    assert recorder.closed() == CloseResult(1012, "restart", was_clean=True)


def test_peer_close_without_status_is_1005(ws: WebSocket, peer: RawPeer) -> None:
    recorder, conn = open_raw(ws, peer)
    conn.send_close(None)
    reply = conn.recv_close()
    assert reply.payload == b""  # no status to echo
    conn.close()
    assert recorder.closed() == CloseResult(1005, "", was_clean=True)
    assert recorder.of("error") == []


def test_client_waits_for_the_server_to_close_tcp_first(ws: WebSocket, peer: RawPeer) -> None:
    recorder, conn = open_raw(ws, peer, {"closeTimeout": timeout(3)})
    conn.send_close(1000)
    conn.recv_close()
    time.sleep(0.2)
    assert recorder.of("close") == []  # RFC 6455 §7.1.1: the server closes TCP first
    conn.close()
    assert recorder.closed(timeout(1)).was_clean


@pytest.mark.parametrize("how", ["fin", "rst"])
def test_link_lost_is_error_then_close_1006(how: str, ws: WebSocket, peer: RawPeer) -> None:
    recorder, conn = open_raw(ws, peer)
    conn.close() if how == "fin" else conn.reset()
    closed = recorder.closed()
    assert closed == CloseResult(1006, closed.reason, was_clean=False)
    error = recorder.error()
    assert (error.code, error.data) == (200, "0")
    assert recorder.names() == ["headerReceive", "open", "error", "close"]
    assert ws.ready_state == "CLOSED"


def test_link_lost_in_the_middle_of_a_frame_is_1006(ws: WebSocket, peer: RawPeer) -> None:
    recorder, conn = open_raw(ws, peer)
    conn.sock.sendall(b"\x81\x7e\x01\x00partial")  # announces 256 bytes, sends 7
    time.sleep(0.1)
    conn.close()
    assert recorder.closed().code == 1006
    assert recorder.names()[-2:] == ["error", "close"]
    assert recorder.of("message") == []


def test_server_process_drops_the_connection(ws: WebSocket) -> None:
    def drop(conn: ServerConnection) -> None:
        conn.recv()
        conn.socket.shutdown(2)  # the TCP connection ends with no Close frame

    with websockets_server(drop) as server:
        recorder = Recorder(ws)
        ws.connect(url_of(server)).result(timeout())
        ws.send("go")
        assert recorder.closed() == CloseResult(1006, recorder.closed().reason, was_clean=False)
    assert recorder.names() == ["headerReceive", "open", "error", "close"]


def test_closing_handshake_timeout_is_1006(ws: WebSocket, peer: RawPeer) -> None:
    recorder, conn = open_raw(ws, peer, {"closeTimeout": 0.3})
    started = time.monotonic()
    ws.close({"code": 1000})
    assert conn.recv_close().close_code == 1000  # ... and never answered
    closed = recorder.closed(timeout(2))
    elapsed = time.monotonic() - started
    assert closed.code == 1006 and not closed.was_clean
    assert 0.25 <= elapsed < 0.3 + timeout(1)
    assert conn.wait_eof(), "the client closes TCP after the timeout"


def test_peer_answers_close_but_keeps_tcp_open(ws: WebSocket, peer: RawPeer) -> None:
    recorder, conn = open_raw(ws, peer, {"closeTimeout": 0.3})
    ws.close()
    conn.recv_close()
    conn.send_close(1000)
    started = time.monotonic()
    closed = recorder.closed(timeout(2))
    assert time.monotonic() - started < 0.3 + timeout(1)
    assert closed.code == 1000 and closed.was_clean  # the handshake itself completed
    assert conn.wait_eof()


def test_close_while_connecting_closes_once_open(ws: WebSocket, peer: RawPeer) -> None:
    recorder = Recorder(ws)
    future = ws.connect(peer.url)
    assert outcome(ws.close({"code": 4004, "reason": "early"}), None) == (None, True)
    assert ws.close().exception(timeout()).code == 2302999  # type: ignore[union-attr]
    conn = peer.accept()
    assert future is not None and future.result(timeout()) is True
    frame = conn.recv_close()
    assert (frame.close_code, frame.close_reason) == (4004, "early")
    conn.send_close(4004, b"early")
    conn.close()
    assert recorder.closed().code == 4004
    assert recorder.names() == ["headerReceive", "open", "close"]


def test_messages_before_the_peers_close_are_delivered(ws: WebSocket, peer: RawPeer) -> None:
    recorder, conn = open_raw(ws, peer)
    ws.close()
    conn.recv_close()
    conn.send_frame(0x1, b"late message")
    conn.send_close(1000)
    conn.close()
    recorder.closed()
    assert recorder.names()[-3:] == ["message", "dataEnd", "close"]


def test_abort_is_error_then_close_1006(ws: WebSocket, peer: RawPeer) -> None:
    recorder, conn = open_raw(ws, peer)
    ws.abort()
    assert recorder.closed() == CloseResult(1006, recorder.closed().reason, was_clean=False)
    assert recorder.names() == ["headerReceive", "open", "error", "close"]
    with pytest.raises((EOFError, ConnectionResetError)):
        conn.recv_frame()  # TCP ends with no Close frame


def test_wait_closed(ws: WebSocket, peer: RawPeer) -> None:
    assert ws.wait_closed(0)  # nothing to wait for
    recorder, conn = open_raw(ws, peer)
    assert not ws.wait_closed(0.05)
    conn.close()
    assert ws.wait_closed(timeout())
    assert recorder.names()[-1] == "close"


def frames_after_close(ws: WebSocket, conn: PeerConnection) -> list[int]:
    """Send from two threads while closing; return the opcodes the peer got after the Close."""
    stop = threading.Event()

    def send_until_refused() -> None:
        while not stop.is_set() and ws.send("x" * 10).exception(timeout()) is None:
            continue

    senders = [threading.Thread(target=send_until_refused) for _ in range(2)]
    for sender in senders:
        sender.start()
    time.sleep(0.002)
    ws.close()
    conn.recv_close()
    conn.send_close(1000)
    after: list[int] = []
    with contextlib.suppress(TimeoutError):  # the client waits for us to close TCP first
        while True:
            after.append(conn.recv_frame(0.05).opcode)
    stop.set()
    for sender in senders:
        sender.join(timeout())
    return after


def test_no_data_frame_after_the_close_frame_while_other_threads_send(peer: RawPeer) -> None:
    for _ in range(15):  # the race was lost about every other time
        ws = create_websocket()
        recorder, conn = open_raw(ws, peer, {"pingInterval": 0})
        assert frames_after_close(ws, conn) == []  # RFC 6455 §5.5.1
        conn.close()
        assert recorder.closed().was_clean
        assert ws.wait_closed(timeout())
