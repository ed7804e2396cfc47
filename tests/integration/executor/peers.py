"""Misbehaving WebSocket peers for executor and CLI tests (handlers for `websockets_server`)."""

from __future__ import annotations

import socket
import struct
import time

from websockets.sync.server import ServerConnection

__all__ = ["dies_after_first", "garbage_after_first", "hello_then_echo", "silent"]


def silent(conn: ServerConnection) -> None:
    """Accept, read everything, never answer."""
    for _ in conn:
        continue  # read and drop


def dies_after_first(conn: ServerConnection) -> None:
    """Answer nothing and drop the TCP connection with a reset after the first message."""
    conn.recv()
    sock = conn.socket
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()  # RST, no close frame: like a server process that crashed


def garbage_after_first(conn: ServerConnection) -> None:
    """After the first message, write a frame with a reserved opcode (RFC 6455 5.2: fail)."""
    conn.recv()
    conn.socket.sendall(b"\x8f\x03abc")
    time.sleep(0.5)


def hello_then_echo(conn: ServerConnection) -> None:
    """Send a greeting at once (before any expect), then echo."""
    conn.send("hello")
    for message in conn:
        conn.send(message)
