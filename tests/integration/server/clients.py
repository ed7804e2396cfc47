"""Clients for the server tests: the `websockets` sync client, and a raw HTTP request."""

from __future__ import annotations

import json
import socket
from typing import Any

from websockets.sync.client import ClientConnection, connect

from runner.server import TestServer
from tests.support import timeout


def open_ws(server: TestServer, path: str, **kwargs: Any) -> ClientConnection:
    """Connect to `path` on `server`; use it in a `with` block so that it closes."""
    conn: ClientConnection = connect(
        server.url + path, open_timeout=timeout(), close_timeout=timeout(), **kwargs
    )
    return conn


def recv_json(conn: ClientConnection) -> Any:
    """The next message, parsed as JSON."""
    return json.loads(conn.recv(timeout=timeout()))


def http_get(server: TestServer, path: str) -> str:
    """Send a plain HTTP GET (no upgrade) and return the whole response."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=timeout()) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
            if b"\r\n\r\n" in b"".join(chunks):
                break
        return b"".join(chunks).decode("latin-1")
