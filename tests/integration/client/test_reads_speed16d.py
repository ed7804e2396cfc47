"""A connection's reads and writes take few system calls (issue 15: many connections in one run).

On a socket with a timeout, every `socket.recv` and `socket.send` polls first, and each system
call lets go of the GIL, which thousands of connection threads then contend for. websocket-client
reads a frame in two `recv` calls or more (header, then payload), so a small frame cost four to
six system calls; the client core now reads a plain socket directly, taking what has arrived (one
read for a burst of frames), writes it directly, and takes the handshake head it peeked at
directly. These tests count the calls made on the client's own socket, over real loopback
connections (the spies call the real functions).
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from runner.client import WebSocket
from tests.integration.client.recorder import QUIET, open_raw
from tests.rawpeer import OP_BINARY, OP_CLOSE, OP_TEXT, RawPeer, accept_key, encode_frame
from tests.support import timeout


class Calls:
    """How often `os.read`, `os.write`, `socket.recv` and `socket.send` ran on one descriptor
    (any thread); the real functions do the work."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.fd: int | None = -1
        self.counts = {"os.read": 0, "os.write": 0, "recv": 0, "send": 0}
        self._lock = threading.Lock()
        self._patch(monkeypatch)

    def _count(self, name: str, fd: int) -> None:
        # by descriptor, or (`fd` None) any call on a connection's own thread
        if fd == self.fd or (self.fd is None and threading.current_thread().name[:8] == "wsrun-ws"):
            with self._lock:
                self.counts[name] += 1

    def _patch(self, monkeypatch: pytest.MonkeyPatch) -> None:
        real_read, real_write = os.read, os.write
        real_recv, real_send = socket.socket.recv, socket.socket.send

        def read(fd: int, size: int) -> bytes:
            self._count("os.read", fd)
            return real_read(fd, size)

        def write(fd: int, data: Any) -> int:
            self._count("os.write", fd)
            return real_write(fd, data)

        def recv(sock: socket.socket, *args: Any) -> bytes:
            self._count("recv", sock.fileno())
            return real_recv(sock, *args)

        def send(sock: socket.socket, *args: Any) -> int:
            self._count("send", sock.fileno())
            return real_send(sock, *args)

        monkeypatch.setattr(os, "read", read)
        monkeypatch.setattr(os, "write", write)
        monkeypatch.setattr(socket.socket, "recv", recv)
        monkeypatch.setattr(socket.socket, "send", send)

    def reads(self) -> int:
        return self.counts["os.read"] + self.counts["recv"]

    def writes(self) -> int:
        return self.counts["os.write"] + self.counts["send"]

    def reset(self) -> None:
        with self._lock:
            self.counts = dict.fromkeys(self.counts, 0)


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[Calls]:
    spy = Calls(monkeypatch)
    yield spy
    monkeypatch.undo()


def client_fd(ws: WebSocket) -> int:
    transport = ws._transport
    assert transport is not None and transport._ws.sock is not None
    fd: int = transport._ws.sock.fileno()
    return fd


def test_a_burst_of_small_frames_is_read_in_one_or_two_reads(
    peer: RawPeer, ws: WebSocket, calls: Calls
) -> None:
    """Before: two `recv` calls per frame (its header, then its payload): 40 for 20 frames."""
    recorder, conn = open_raw(ws, peer, QUIET)
    calls.fd = client_fd(ws)
    calls.reset()
    conn.sock.sendall(b"".join(encode_frame(OP_TEXT, f"m{i}".encode()) for i in range(20)))
    # Every frame arrives although only the first read touched the socket: the receive loop
    # does not wait for the socket while frames read ahead are waiting in the frame reader.
    assert recorder.messages(20) == [f"m{i}" for i in range(20)]
    assert calls.reads() <= 2, calls.counts
    assert calls.counts["recv"] == 0, calls.counts  # no poll-then-recv of a timeout socket
    conn.close_handshake()
    assert recorder.closed().code == 1000


def test_the_closing_handshake_reads_the_close_frame_and_the_end_in_two_reads(
    peer: RawPeer, ws: WebSocket, calls: Calls
) -> None:
    """Before: three `recv` calls (the Close frame's header, its payload, the end of stream),
    each a poll and a read, and the Close frame written with a poll and a send."""
    recorder, conn = open_raw(ws, peer, QUIET)
    calls.fd = client_fd(ws)
    calls.reset()
    ws.close()
    assert conn.recv_close().close_code == 1000
    conn.send_close(1000)
    conn.close()
    assert recorder.closed().was_clean
    assert calls.reads() <= 2, calls.counts
    assert calls.counts["recv"] == 0, calls.counts
    assert calls.counts == {**calls.counts, "os.write": 1, "send": 0}


def test_sends_write_the_socket_directly(peer: RawPeer, ws: WebSocket, calls: Calls) -> None:
    """Before: websocket-client's `send` (a poll, then a send) for each message."""
    recorder, conn = open_raw(ws, peer, QUIET)
    calls.fd = client_fd(ws)
    calls.reset()
    for i in range(10):
        ws.send(f"m{i}").result(timeout())
    assert [conn.recv_frame().payload for _ in range(10)] == [f"m{i}".encode() for i in range(10)]
    assert calls.counts["os.write"] == 10 and calls.counts["send"] == 0, calls.counts
    conn.close_handshake()
    assert recorder.closed().code == 1000


def test_the_handshake_head_is_peeked_at_once_then_taken_without_a_poll(
    peer: RawPeer, ws: WebSocket, calls: Calls
) -> None:
    """Before: the head's bytes were peeked at, then taken with a second `recv` (each a poll
    and a read on a socket with a timeout)."""
    calls.fd = None  # every call on the connection's thread: the handshake's
    recorder, conn = open_raw(ws, peer, QUIET)
    assert calls.counts["recv"] == 1, calls.counts  # the peek (polls first: it waits for data)
    assert calls.counts["os.read"] == 1, calls.counts  # the take: the bytes are there already
    calls.fd = -1
    conn.close_handshake()
    assert recorder.closed().code == 1000


def test_a_frame_in_the_same_segment_as_the_101_is_delivered(peer: RawPeer, ws: WebSocket) -> None:
    """The head is taken exactly: the frame after it reaches the frame reader."""
    got: list[str | bytes] = []
    arrived = threading.Event()

    def on_message(_err: object, data: str | bytes) -> None:
        got.append(data)
        arrived.set()

    ws.on("message", on_message)
    ws.connect(peer.url, QUIET)
    conn = peer.accept(handshake=False)
    conn.read_request(timeout())
    key = conn.request_headers["sec-websocket-key"]
    head = (
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Accept: {accept_key(key)}\r\n\r\n"
    ).encode("latin-1")
    conn.sock.sendall(head + encode_frame(OP_TEXT, b"right after"))
    assert arrived.wait(timeout())
    assert got == ["right after"]
    conn.close_handshake()


def test_a_frame_split_over_two_segments_is_read_whole(peer: RawPeer, ws: WebSocket) -> None:
    """The rest of a frame not arrived yet is waited for as websocket-client waits for it."""
    recorder, conn = open_raw(ws, peer, QUIET)
    frame = encode_frame(OP_TEXT, b"x" * 3000)
    conn.sock.sendall(frame[:5])
    time.sleep(0.1)
    conn.sock.sendall(frame[5:1000])
    time.sleep(0.1)
    conn.sock.sendall(frame[1000:] + encode_frame(OP_TEXT, b"next"))
    assert recorder.messages(2) == ["x" * 3000, "next"]
    conn.close_handshake()
    assert recorder.closed().code == 1000


def test_a_big_message_and_a_close_after_it_in_one_write(peer: RawPeer, ws: WebSocket) -> None:
    """Frames bigger than one read, then a Close read ahead with them."""
    recorder, conn = open_raw(ws, peer, QUIET)
    payload = os.urandom(300_000)
    conn.sock.sendall(
        encode_frame(OP_BINARY, payload) + encode_frame(OP_CLOSE, (1000).to_bytes(2, "big"))
    )
    assert recorder.messages(1) == [payload]
    assert conn.recv_close().close_code == 1000
    conn.close()
    assert recorder.closed().code == 1000


def test_a_close_does_not_wake_the_receive_loop_to_tell_it_the_deadline(
    peer: RawPeer, ws: WebSocket, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: `start_close` wrote the loop's eventfd (a system call), and the loop woke, read
    it and polled again, before the peer's Close woke it for real."""
    recorder, conn = open_raw(ws, peer, QUIET)
    transport = ws._transport
    assert transport is not None
    waker = transport._waker
    wakes: list[int] = []
    real_wake = type(waker).wake

    def wake(self: Any) -> None:
        if self is waker:
            wakes.append(1)
        real_wake(self)

    monkeypatch.setattr(type(waker), "wake", wake)
    ws.close()
    assert conn.recv_close().close_code == 1000
    conn.send_close(1000)
    conn.close()
    assert recorder.closed().was_clean
    assert wakes == []


def test_the_close_timer_still_ends_a_close_the_peer_never_answers(
    peer: RawPeer, ws: WebSocket
) -> None:
    """The loop is not woken when the close starts: the timer wakes it at the deadline."""
    recorder, conn = open_raw(ws, peer, {**QUIET, "closeTimeout": 0.3})
    started = time.monotonic()
    ws.close()
    assert conn.recv_close().close_code == 1000  # ... and never answered
    closed = recorder.closed(timeout(2))
    assert closed.code == 1006 and closed.reason == "closing handshake timed out"
    assert 0.29 <= time.monotonic() - started < 0.3 + timeout(1)
    assert conn.wait_eof()


def test_clean_closes_wake_nothing_when_their_deadlines_come(
    peer: RawPeer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Deadlines of connections that ended are dropped when they come up, waking nothing."""
    from runner.client import create_websocket
    from runner.client.transport import _Waker

    wakers: set[int] = set()
    woken: list[int] = []
    real_wake = _Waker.wake

    def wake(self: _Waker) -> None:
        if id(self) in wakers:
            woken.append(id(self))
        real_wake(self)

    monkeypatch.setattr(_Waker, "wake", wake)
    kept = []
    for _ in range(5):
        ws = create_websocket()
        recorder, conn = open_raw(ws, peer, {**QUIET, "closeTimeout": 0.2})
        assert ws._transport is not None
        wakers.add(id(ws._transport._waker))
        kept.append(ws._transport._waker)  # ids stay theirs while the test runs
        ws.close()
        conn.recv_close()
        conn.send_close(1000)
        conn.close()
        assert recorder.closed().was_clean
    time.sleep(0.5)  # every deadline has come
    assert woken == []
