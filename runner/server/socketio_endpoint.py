"""`/socket.io/`: a Socket.IO v5 server, python-socketio itself, inside the built-in server.

python-socketio serves ASGI; the connection the `websockets` server accepted is handed to its
ASGI app as a ``websocket`` scope (`_AsgiBridge`: the ASGI receive and send events become
`recv`/`send`/`close` on the connection), so everything the client sees is python-socketio's
own doing: the Engine.IO open packet, its pings, namespaces, acks, rooms and ``44`` refusals.
The WebSocket transport only (no HTTP long-polling): the built-in server speaks WebSocket.

Events of the namespace ``/``:

- ``sum`` (numbers...): acks their sum; ``echo`` (anything...): acks its arguments;
- ``sleep`` (ms): acks ms after that many milliseconds (something to time out);
- ``join`` (room): joins the room, acks ``{"room": room, "members": n}``;
- ``say`` ({"room": r, "text": t}): emits ``said`` ``{"room", "from" (the sid), "text"}`` to
  everyone in the room (the sender too, when it joined it);
- ``malformed``: sends a frame that is not a Socket.IO packet (for testing clients).

The namespace ``/admin`` wants ``auth: {"token": "secret"}`` and refuses anything else with
``44{"message": "bad token"}``; its ``whoami`` acks ``{"sid": ..., "user": auth.user}``.

``?pingInterval=MS`` (100 to 60000, default 25000) and ``?pingTimeout=MS`` (100 to 60000,
default 20000, python-socketio's defaults) choose a server that pings that often and drops a
client that has not answered within that long (one server per pair).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from runner.server.common import Handler
from runner.server.target import Target

__all__ = ["PATH", "SocketIoServers"]

#: The path the endpoint serves (python-socketio's default).
PATH = "/socket.io/"

_MAX_SLEEP_MS = 60_000
_TOKEN = "secret"


class SocketIoServers:
    """The python-socketio servers of one built-in server, one per ping interval, made when
    first asked for (python-socketio is imported then)."""

    def __init__(self) -> None:
        self._apps: dict[tuple[int, int], Callable[..., Awaitable[None]]] = {}

    def endpoint(self, target: Target) -> Handler:
        """`/socket.io/?EIO=4&transport=websocket[&pingInterval=MS][&pingTimeout=MS]`."""
        interval = target.integer("pingInterval", 25_000, 100, 60_000)
        timeout = target.integer("pingTimeout", 20_000, 100, 60_000)
        target.choice("transport", "websocket", ("websocket",))
        target.choice("EIO", "4", ("4",))

        async def run(conn: ServerConnection) -> None:
            app = self._app(interval, timeout)
            await _AsgiBridge(conn).serve(app)

        return run

    def _app(self, interval_ms: int, timeout_ms: int) -> Callable[..., Awaitable[None]]:
        app = self._apps.get((interval_ms, timeout_ms))
        if app is None:
            app = _make_app(interval_ms / 1000, timeout_ms / 1000)
            self._apps[interval_ms, timeout_ms] = app
        return app


def _make_app(interval: float, timeout: float) -> Callable[..., Awaitable[None]]:
    import socketio

    sio = socketio.AsyncServer(
        async_mode="asgi",
        cors_allowed_origins="*",
        ping_interval=interval,
        ping_timeout=timeout,
        transports=["websocket"],
    )

    async def total(sid: str, *numbers: Any) -> Any:
        if not all(isinstance(n, int | float) and not isinstance(n, bool) for n in numbers):
            return {"error": "sum expects numbers, such as 1, 2"}
        return sum(numbers)

    async def echo(sid: str, *args: Any) -> Any:
        return args

    async def sleep(sid: str, ms: Any = 0) -> Any:
        if not isinstance(ms, int) or isinstance(ms, bool) or not 0 <= ms <= _MAX_SLEEP_MS:
            return {"error": f"sleep expects milliseconds from 0 to {_MAX_SLEEP_MS}"}
        await asyncio.sleep(ms / 1000)
        return ms

    async def join(sid: str, room: Any = None) -> Any:
        if not isinstance(room, str):
            return {"error": "join expects a room name"}
        await sio.enter_room(sid, room)
        return {"room": room, "members": len(list(sio.manager.get_participants("/", room)))}

    async def say(sid: str, message: Any = None) -> None:
        room = message.get("room") if isinstance(message, dict) else None
        text = message.get("text") if isinstance(message, dict) else None
        if not isinstance(room, str) or not isinstance(text, str):
            await sio.emit("error", {"message": 'say expects {"room": ..., "text": ...}'}, to=sid)
            return
        await sio.emit("said", {"room": room, "from": sid, "text": text}, room=room)

    async def malformed(sid: str, *args: Any) -> None:
        await sio.eio.send(sio.manager.eio_sid_from_sid(sid, "/"), "2[this is not JSON")

    async def admin(sid: str, environ: Any, auth: Any = None) -> None:
        if not isinstance(auth, dict) or auth.get("token") != _TOKEN:
            raise socketio.exceptions.ConnectionRefusedError("bad token")
        await sio.save_session(sid, {"user": auth.get("user")}, namespace="/admin")

    async def whoami(sid: str, *args: Any) -> Any:
        session = await sio.get_session(sid, namespace="/admin")
        return {"sid": sid, "user": session.get("user")}

    sio.on("sum", total)
    sio.on("echo", echo)
    sio.on("sleep", sleep)
    sio.on("join", join)
    sio.on("say", say)
    sio.on("malformed", malformed)
    sio.on("connect", admin, namespace="/admin")
    sio.on("whoami", whoami, namespace="/admin")
    app: Callable[..., Awaitable[None]] = socketio.ASGIApp(sio, socketio_path=PATH)
    return app


class _AsgiBridge:
    """An accepted `websockets` connection as an ASGI ``websocket`` connection."""

    def __init__(self, conn: ServerConnection) -> None:
        self.conn = conn
        self._connected = False
        self._closed = False

    async def serve(self, app: Callable[..., Awaitable[None]]) -> None:
        request = self.conn.request
        assert request is not None  # the handshake is done
        path, _, query = request.path.partition("?")
        scope = {
            "type": "websocket",
            "asgi": {"version": "3.0"},
            "scheme": "ws",
            "path": path,
            "raw_path": path.encode(),
            "query_string": query.encode(),
            "headers": [
                (name.lower().encode("latin-1"), value.encode("latin-1"))
                for name, value in request.headers.raw_items()
            ],
            "client": self.conn.remote_address[:2] if self.conn.remote_address else None,
            "server": self.conn.local_address[:2] if self.conn.local_address else None,
            "subprotocols": [],
        }
        await app(scope, self.receive, self.send)

    async def receive(self) -> dict[str, Any]:
        if not self._connected:
            self._connected = True
            return {"type": "websocket.connect"}
        try:
            message = await self.conn.recv()
        except ConnectionClosed as closed:
            code = closed.rcvd.code if closed.rcvd else 1006
            return {"type": "websocket.disconnect", "code": code}
        if isinstance(message, bytes):
            return {"type": "websocket.receive", "bytes": message}
        return {"type": "websocket.receive", "text": message}

    async def send(self, event: dict[str, Any]) -> None:
        kind = event["type"]
        if kind == "websocket.send":
            data = event.get("bytes")
            data = event.get("text", "") if data is None else data
            with contextlib.suppress(ConnectionClosed):
                await self.conn.send(data)
        elif kind == "websocket.close" and not self._closed:
            self._closed = True
            await self.conn.close(event.get("code", 1000), event.get("reason") or "")
        # websocket.accept: the `websockets` server has accepted already
