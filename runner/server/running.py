"""`TestServer`: the built-in server on its own thread and event loop."""

from __future__ import annotations

import asyncio
import ssl
import threading
from types import TracebackType

from websockets.asyncio.server import Server, serve

from runner.server.app import App
from runner.server.endpoints import MAX_SIZE

__all__ = ["TestServer"]

_START_TIMEOUT = 10.0
_STOP_TIMEOUT = 10.0
# How long a closing handshake may take when the server stops (RFC 6455 7.1.1: then the TCP
# connection is closed anyway).
_CLOSE_TIMEOUT = 2.0


class TestServer:
    """The built-in test server, running on a thread of its own until `stop()`.

    Use it as a context manager, or call `start()` and `stop()`::

        with TestServer() as server:
            connect(f"{server.url}/echo")

    Args:
        host: The address to listen on.
        port: The port to listen on; 0 picks a free one (read it from `port` after `start()`).
        ssl_context: serve ``wss://`` with this server context instead of ``ws://``.
        compression: accept a client's permessage-deflate offer (RFC 7692); off by default.
    """

    __test__ = False  # not a pytest test class, despite its name

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        ssl_context: ssl.SSLContext | None = None,
        *,
        compression: bool = False,
    ) -> None:
        self.host = host
        self.ssl_context = ssl_context
        self.compression = compression
        self.requested_port = port
        self._port: int | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None

    @property
    def port(self) -> int:
        """The port the server listens on."""
        if self._port is None:
            raise RuntimeError("the test server is not running; call start() first")
        return self._port

    @property
    def url(self) -> str:
        """The server's base URL, ``ws://host:port`` (``wss://`` with TLS); add a path to it."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        scheme = "wss" if self.ssl_context is not None else "ws"
        return f"{scheme}://{host}:{self.port}"

    def start(self) -> TestServer:
        """Start listening; return once connections are accepted.

        Raises:
            OSError: The address cannot be listened on (for example, the port is taken).
        """
        if self._thread is not None:
            raise RuntimeError("the test server is already started")
        self._thread = threading.Thread(target=self._run, name="wsrun-test-server", daemon=True)
        self._thread.start()
        if not self._ready.wait(_START_TIMEOUT):
            raise RuntimeError(f"the test server did not start within {_START_TIMEOUT:g}s")
        if self._error is not None:
            self._thread.join(_STOP_TIMEOUT)
            self._thread = None
            raise self._error
        return self

    def stop(self) -> None:
        """Close every connection (code 1001), stop listening and end the thread; idempotent."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        thread.join(_STOP_TIMEOUT)
        self._port = None

    def __enter__(self) -> TestServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _run(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        try:
            server = await self._listen()
        except BaseException as exc:  # reported to the thread that called start()
            self._error = exc
            self._ready.set()
            return
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        self._port = server.sockets[0].getsockname()[1]
        self._ready.set()
        try:
            await self._stopping.wait()
        finally:
            server.close()
            await server.wait_closed()

    async def _listen(self) -> Server:
        app = App()
        return await serve(
            app.handle,
            self.host,
            self.requested_port,
            process_request=app.process_request,
            process_response=app.process_response,
            select_subprotocol=app.select_subprotocol,
            # off by default, so that the server behaves as OpenHarmony's clients expect
            compression="deflate" if self.compression else None,
            max_size=MAX_SIZE,
            ping_interval=None,  # no keepalive pings: the traffic is only what endpoints send
            close_timeout=_CLOSE_TIMEOUT,
            ssl=self.ssl_context,
        )
