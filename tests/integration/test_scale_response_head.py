"""The handshake response head is read whole (peek, then take), not one byte per system call."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import websocket
import websocket._http

from runner.client import create_websocket
from runner.client.response_head import read_headers
from tests.rawpeer import OP_TEXT, RawPeer, accept_key, encode_frame
from tests.support import timeout

HEAD = (
    b"HTTP/1.1 101 Switching Protocols\r\n"
    b"Upgrade: websocket\r\n"
    b"Connection: Upgrade\r\n"
    b"Set-Cookie: a=1\r\n"
    b"Set-Cookie: b=2\r\n"
    b"X-Spaced:   padded value  \r\n"
    b"\r\n"
)
#: A frame the server sends in the same segment as its head: it must stay in the socket.
FRAME = b"\x81\x02hi"


class CountingSocket(socket.socket):
    """A socket that counts its `recv` calls."""

    recvs = 0

    def recv(self, size: int, flags: int = 0) -> bytes:
        self.recvs += 1
        return super().recv(size, flags)


@contextmanager
def socket_pair() -> Iterator[tuple[CountingSocket, socket.socket]]:
    a, b = socket.socketpair()
    client = CountingSocket(fileno=a.detach())
    client.settimeout(timeout(5))
    try:
        yield client, b
    finally:
        client.close()
        b.close()


def test_the_head_takes_a_few_reads_and_leaves_the_next_frame_in_the_socket() -> None:
    with socket_pair() as (client, server):
        server.sendall(HEAD + FRAME)
        status, headers, message = read_headers(client)
        assert client.recvs <= 2  # websocket-client's own reader made one recv per byte (~150)
        assert client.recv(16) == FRAME
    assert (status, message) == (101, "Switching Protocols")
    assert headers["set-cookie"] == "a=1; b=2"  # joined, as websocket-client does
    assert headers["x-spaced"] == "padded value"


def test_a_head_that_arrives_in_pieces_reads_the_same_as_websocket_clients_reader() -> None:
    with socket_pair() as (client, server):

        def dribble() -> None:
            for i in range(0, len(HEAD), 7):
                server.sendall(HEAD[i : i + 7])
                threading.Event().wait(0.002)
            server.sendall(FRAME)

        writer = threading.Thread(target=dribble)
        writer.start()
        ours = read_headers(client)
        writer.join(timeout(5))
        assert client.recv(16) == FRAME
    with socket_pair() as (client, server):
        server.sendall(HEAD + FRAME)
        theirs = websocket._http.read_headers(client)
    assert ours == theirs


@pytest.mark.parametrize(
    ("head", "error"),
    [
        (b"HTTP/1.1 abc Nope\r\n\r\n", "Invalid status line: 'HTTP/1.1 abc Nope'"),
        (b"HTTP/1.1 101 OK\r\nno colon here\r\n\r\n", "Invalid header"),
        (b"HTTP/1.1 101 OK\r\nX: \xff\r\n\r\n", "not valid UTF-8 at byte 3"),
    ],
)
def test_a_bad_head_fails_with_websocket_clients_message(head: bytes, error: str) -> None:
    with socket_pair() as (client, server):
        server.sendall(head)
        with pytest.raises(websocket.WebSocketException) as ours:
            read_headers(client)
    with socket_pair() as (client, server):
        server.sendall(head)
        with pytest.raises(websocket.WebSocketException) as theirs:
            websocket._http.read_headers(client)
    assert error in str(ours.value)
    assert str(ours.value) == str(theirs.value)


def test_a_peer_that_closes_mid_head_is_a_lost_connection() -> None:
    with socket_pair() as (client, server):
        server.sendall(b"HTTP/1.1 101 Switching")
        server.shutdown(socket.SHUT_WR)
        with pytest.raises(websocket.WebSocketConnectionClosedException):
            read_headers(client)


def test_the_client_core_gets_a_message_sent_with_the_101_in_one_segment() -> None:
    received: list[object] = []
    got = threading.Event()
    ws = create_websocket()
    ws.on("message", lambda _err, data: (received.append(data), got.set()))
    with RawPeer() as peer:
        future = ws.connect(peer.url)
        conn = peer.accept(handshake=False)
        conn.read_request(timeout(5))
        key = conn.request_headers["sec-websocket-key"]
        head = (
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Accept: {accept_key(key)}\r\n\r\n"
        )
        conn.sock.sendall(head.encode("ascii") + encode_frame(OP_TEXT, b"right after the head"))
        assert future.result(timeout(5)) is True
        assert got.wait(timeout(5))
        ws.abort()
        assert ws.wait_closed(timeout(5))
    assert received == ["right after the head"]
