"""`wsrun record --listen [HOST]:PORT --upstream URL`: a recording proxy.

Clients connect to the proxy (a `websockets` server on its own thread and event loop); for each,
the proxy opens the upstream connection with the client core (`runner.client`) before it answers
the client's handshake, with the client's headers and subprotocols, and answers with the
upstream's status (a refusal is passed on, status and body) and subprotocol. Messages then go
both ways unchanged (text as text, binary as binary, the same bytes), and so does the close
(code and reason); pings are answered on each side, not forwarded. Each client connection is
logged frame by frame and, once it ends, written as a scenario.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from runner.client import HandshakeRefused, WebSocket, create_websocket
from runner.recording.session import Close, Frame, Session

__all__ = ["RecordingProxy", "run_proxy"]

Out = Callable[[str, str], None]
_NOT_FORWARDED = {"host", "connection", "upgrade", "content-length", "keep-alive"}
_MAX_SIZE = 64 * 2**20  # the client core's default maxMessageSize
_UPSTREAM_TIMEOUT = 10.0
# RFC 6455 7.4.1: 1005 and 1006 are never sent in a Close frame; they say there was none.
_NO_CODE = (1005, 1006)


@dataclass
class _Link:
    """One client connection and its upstream twin, and what was recorded."""

    number: int
    url: str
    session: Session
    upstream: WebSocket = field(default_factory=create_websocket)
    queue: asyncio.Queue[Any] = field(default_factory=asyncio.Queue)
    closed_by: str | None = None


class RecordingProxy:
    """The proxy on a thread of its own; `start()`, then `stop()` (or use it as a context)."""

    def __init__(
        self,
        host: str,
        port: int,
        upstream: str,
        on_session: Callable[[int, Session], None],
        out: Out,
    ) -> None:
        self.host, self.requested_port, self.upstream = host, port, upstream.rstrip("/")
        self.on_session, self.out = on_session, out
        self.port = 0
        self._links: dict[int, _Link] = {}
        self._count = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._serve, name="wsrun-record-proxy", daemon=True)

    def __enter__(self) -> RecordingProxy:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self._thread.start()
        self._ready.wait(_UPSTREAM_TIMEOUT)
        if self._error is not None:
            raise self._error
        if not self.port:
            raise TimeoutError("the recording proxy did not start")

    def stop(self) -> None:
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join(_UPSTREAM_TIMEOUT)

    def _serve(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported by start()
            self._error = exc
            self._ready.set()

    async def _main(self) -> None:
        self._loop, self._stopping = asyncio.get_running_loop(), asyncio.Event()
        server: Server = await serve(
            self._handle, self.host, self.requested_port,
            process_request=self._open_upstream, select_subprotocol=self._subprotocol,
            ping_interval=None, compression=None, max_size=_MAX_SIZE,
        )  # fmt: skip
        async with server:
            self.port = server.sockets[0].getsockname()[1]
            self._ready.set()
            await self._stopping.wait()

    # -- the handshake: upstream first -----------------------------------------------------

    def _target(self, request: Request) -> str:
        """The upstream URL: the client's path and query appended to --upstream's, unless `/`."""
        return self.upstream if request.path in ("", "/") else self.upstream + request.path

    async def _open_upstream(
        self, connection: ServerConnection, request: Request
    ) -> Response | None:
        self._count += 1
        url = self._target(request)
        headers = [(k, v) for k, v in request.headers.raw_items() if not _skip(k)]
        offered = [
            p.strip()
            for v in request.headers.get_all("Sec-WebSocket-Protocol")
            for p in v.split(",")
            if p.strip()
        ]
        session = Session()
        name = session.add_connection(url, time.time(), headers=headers, subprotocols=offered).name
        link = _Link(self._count, url, session)
        self._links[id(connection)] = link
        self._listen(link, name, asyncio.get_running_loop())
        options: dict[str, Any] = {
            "header": dict(headers),
            "pingInterval": 0,
            "timeout": _UPSTREAM_TIMEOUT,
        }
        if offered:
            options["protocol"] = ",".join(offered)
        try:
            await asyncio.wrap_future(link.upstream.connect(url, options))
        except HandshakeRefused as refused:
            status = int(refused.data or 0)
            self.out(
                f"{name} #{link.number}: {url} refused the handshake with HTTP {status}",
                "yellow",
            )
            session.connections[0].status = status
            self._finish(link)
            response = connection.respond(status, "")
            response.body = refused.body
            response.headers = Headers([("Content-Length", str(len(refused.body)))])
            return response
        except Exception as exc:  # any failure to reach upstream is a 502
            self.out(f"{name} #{link.number}: cannot connect to {url}: {exc}", "red")
            self._links.pop(id(connection), None)
            return connection.respond(502, f"wsrun record: cannot connect to {url}: {exc}\n")
        self.out(f"{name} #{link.number}: connected to {url}", "green")
        return None

    def _subprotocol(
        self, connection: ServerConnection, offered: Sequence[Subprotocol]
    ) -> Subprotocol | None:
        link = self._links.get(id(connection))
        chosen = link.upstream.protocol if link is not None else None
        return Subprotocol(chosen) if chosen else None

    def _listen(self, link: _Link, name: str, loop: asyncio.AbstractEventLoop) -> None:
        """Upstream events (on the client core's thread) go to the link's queue, in order."""

        def message(err: object, data: str | bytes) -> None:
            link.session.frames.append(Frame(name, "receive", time.time(), data))
            loop.call_soon_threadsafe(link.queue.put_nowait, data)

        def closed(err: object, result: Any) -> None:
            loop.call_soon_threadsafe(link.queue.put_nowait, result)

        link.upstream.on("message", message)
        link.upstream.on("close", closed)

    # -- forwarding -------------------------------------------------------------------------

    async def _handle(self, connection: ServerConnection) -> None:
        link = self._links[id(connection)]
        name = link.session.connections[0].name
        downstream = asyncio.create_task(self._to_client(connection, link, name))
        try:
            async for data in connection:
                link.session.frames.append(Frame(name, "send", time.time(), data))
                self._log(link, name, "→", data)
                await asyncio.wrap_future(link.upstream.send(data))
        except ConnectionClosed:
            pass
        finally:
            if link.closed_by is None:  # the client closed first: pass its close on
                link.closed_by = "send"
                code, reason = _close_of(connection)
                link.session.closes.append(Close(name, "send", time.time(), code, reason))
                self.out(f"{name} #{link.number}: the client closed ({_said(code, reason)})", "")
                if code is None or code in _NO_CODE:
                    link.upstream.abort()
                else:
                    link.upstream.close({"code": code, "reason": reason})
            await asyncio.wait_for(downstream, _UPSTREAM_TIMEOUT)
            self._finish(link)

    async def _to_client(self, connection: ServerConnection, link: _Link, name: str) -> None:
        while True:
            item = await link.queue.get()
            if isinstance(item, (str, bytes)):
                self._log(link, name, "←", item)
                with contextlib.suppress(ConnectionClosed):
                    await connection.send(item)
                continue
            if link.closed_by is None:  # upstream closed first: close the client the same way
                link.closed_by = "receive"
                link.session.closes.append(
                    Close(name, "receive", time.time(), item.code, item.reason)
                )
                self.out(
                    f"{name} #{link.number}: the server closed ({_said(item.code, item.reason)})",
                    "",
                )
                if item.code in _NO_CODE:
                    connection.transport.abort()
                else:
                    await connection.close(item.code, item.reason)
            return

    def _log(self, link: _Link, name: str, arrow: str, data: str | bytes) -> None:
        shown = f"(binary) {data.hex(' ')}" if isinstance(data, bytes) else data
        if len(shown) > 200:
            shown = (
                shown[:200]
                + f"... ({len(data)} {'bytes' if isinstance(data, bytes) else 'characters'})"
            )
        self.out(f"{name} #{link.number} {arrow} {shown}", "")

    def _finish(self, link: _Link) -> None:
        self.on_session(link.number, link.session)


def _said(code: int | None, reason: str) -> str:
    return f"{code if code is not None else 'no code'} {reason}".strip()


def _skip(name: str) -> bool:
    lower = name.lower()
    return lower in _NOT_FORWARDED or lower.startswith("sec-websocket-")


def _close_of(connection: ServerConnection) -> tuple[int | None, str]:
    received = connection.protocol.close_rcvd
    if received is None:
        return None, ""
    return int(received.code), received.reason


def _address(listen: str) -> tuple[str, int]:
    host, _, port = listen.rpartition(":")
    return host or "127.0.0.1", int(port)


def run_proxy(listen: str, upstream: str, output: str | None, out: Out) -> int:
    """Run the proxy until Ctrl-C or SIGTERM; write each connection's scenario as it ends
    (those still open when it stops too). The CLI makes a Ctrl-C exit 130."""
    from runner.recording.commands import write_scenario

    try:
        host, port = _address(listen)
    except ValueError:
        out(f"wsrun record: --listen takes [HOST]:PORT, found {listen!r}", "red")
        return 2
    if not upstream.startswith(("ws://", "wss://")):
        out(f"wsrun record: --upstream must be a ws:// or wss:// URL, found {upstream!r}", "red")
        return 2
    failures = []

    def written(number: int, session: Session) -> None:
        target = None
        if output:
            path = Path(output)
            target = str(path.with_name(f"{path.stem}-{number}{path.suffix or '.yaml'}"))
        header = (
            f"Recorded by wsrun record (connection {number} through the proxy): review before use."
        )
        name = f"{session.connections[0].name} {number}"
        failures.append(write_scenario(session, name, header, target, out))

    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        with RecordingProxy(host, port, upstream, written, out) as proxy:
            out(
                f"wsrun record: proxy listening on ws://{host}:{proxy.port}, "
                f"forwarding to {upstream}",
                "",
            )
            with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C: stop, writing what is open
                while not stop.wait(0.1):
                    pass
    except OSError as exc:
        out(f"wsrun record: cannot listen on {host}:{port}: {exc}", "red")
        return 2
    finally:
        signal.signal(signal.SIGTERM, previous)
    return 1 if any(failures) else 0
