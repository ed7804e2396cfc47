"""Helpers shared by the tests: one timeout unit, and real servers on loopback port 0."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

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


@contextmanager
def uvicorn_server(app: Any, scheme: str) -> Iterator[str]:
    """An ASGI `app` served by uvicorn on 127.0.0.1 and a free port, in a thread; yields its
    ``{scheme}://127.0.0.1:PORT`` base URL; stopped on exit."""
    import uvicorn

    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_level="warning", ws="websockets-sansio"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        for _ in range(int(timeout(5) / 0.01)):
            if server.started:
                break
            threading.Event().wait(0.01)
        assert server.started, "uvicorn did not start"
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"{scheme}://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout(5))
