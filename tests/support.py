"""Helpers shared by the tests: one timeout unit, and real servers on loopback port 0."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from websockets.sync.server import Server, ServerConnection, serve

#: One unit of waiting, in seconds; scale it on a slow machine with WSRUN_TEST_TIMEOUT_UNIT.
UNIT = float(os.environ.get("WSRUN_TEST_TIMEOUT_UNIT", "1.0"))


def timeout(units: float = 5.0) -> float:
    """A timeout of `units` test units, in seconds."""
    return units * UNIT


@contextmanager
def websockets_server(
    handler: Callable[[ServerConnection], None], **kwargs: object
) -> Iterator[Server]:
    """Run a `websockets` server on 127.0.0.1, port 0, in a thread; stop it on exit."""
    server = serve(handler, "127.0.0.1", 0, **kwargs)  # type: ignore[arg-type]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        thread.join(timeout(5))


def url_of(server: Server, path: str = "/") -> str:
    """The ws:// URL of a server started by `websockets_server`."""
    host, port = server.socket.getsockname()[:2]
    return f"ws://{host}:{port}{path}"


def echo(conn: ServerConnection) -> None:
    """Echo every message back, text as text and binary as binary."""
    for message in conn:
        conn.send(message)
