"""Routing: which endpoint serves a path, and the hooks the `websockets` server calls.

The opening handshake goes through `App.process_request` (route, check parameters, refuse with
404/400/401) and `App.select_subprotocol`; the accepted connection then runs in `App.handle`.
"""

from __future__ import annotations

import contextlib
import http
import re
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from runner.server import endpoints
from runner.server.brokers import PATHS as BROKER_PATHS
from runner.server.brokers import Brokers
from runner.server.chat import Rooms
from runner.server.common import Handler
from runner.server.graphql_endpoint import SUBPROTOCOL as GRAPHQL_SUBPROTOCOL
from runner.server.graphql_endpoint import graphql
from runner.server.login import Sessions
from runner.server.pinger import pinger
from runner.server.rpc import rpc
from runner.server.socketio_endpoint import SocketIoServers
from runner.server.target import HttpError, Target

__all__ = ["ENDPOINT_PATHS", "App", "Route"]


@dataclass(frozen=True)
class Route:
    """A path pattern (named groups become `Target.params`) and its endpoint factory."""

    pattern: re.Pattern[str]
    endpoint: Callable[[Target], Handler]


class App:
    """The endpoints of one server, with their shared state (the chat rooms)."""

    def __init__(self) -> None:
        self.rooms = Rooms()
        self.sessions = Sessions()  # /login, /whoami and /session
        self.socketio = SocketIoServers()  # /socket.io/: python-socketio, made on first use
        self.routes = _routes(self.rooms, self.sessions, self.socketio)
        self.brokers = Brokers()  # /mqtt and /stomp
        self.routes += tuple(
            Route(re.compile(path), endpoint) for path, endpoint in self.brokers.table().items()
        )
        # Handlers chosen during the handshake, until the connection opens (or is dropped).
        self._handlers: weakref.WeakKeyDictionary[ServerConnection, Handler] = (
            weakref.WeakKeyDictionary()
        )

    def process_request(self, conn: ServerConnection, request: Request) -> Response | None:
        """Route the request; refuse it with a plain HTTP response when it cannot be served
        (`/login` and `/whoami` answer plain HTTP)."""
        answer = self.sessions.http(conn, request, urlsplit(request.path).path)
        if answer is not None:
            return answer
        try:
            self._handlers[conn] = self._endpoint(request)
        except HttpError as exc:
            response = conn.respond(exc.status, exc.message + "\n")
            for name, value in exc.headers.items():
                response.headers[name] = value
            return response
        return None

    def process_response(
        self, conn: ServerConnection, request: Request, response: Response
    ) -> Response | None:
        """`/session`'s 101 sets a cookie (the others are sent as they are)."""
        if response.status_code == 101 and urlsplit(request.path).path == "/session":
            self.sessions.accepted(response)
        return None

    def select_subprotocol(
        self, conn: ServerConnection, offered: Sequence[Subprotocol]
    ) -> Subprotocol | None:
        """Negotiate on `/subprotocol` and `/graphql` only; other endpoints speak none."""
        if (broker := self.brokers.subprotocol(conn, offered)) is not None:
            return broker
        path = urlsplit(conn.request.path if conn.request else "").path
        if path == "/graphql":
            return Subprotocol(GRAPHQL_SUBPROTOCOL) if GRAPHQL_SUBPROTOCOL in offered else None
        if path != "/subprotocol":
            return None
        return endpoints.select_subprotocol(offered)

    async def handle(self, conn: ServerConnection) -> None:
        """Serve an open connection; a client that goes away is normal, not an error."""
        handler = self._handlers.pop(conn)
        with contextlib.suppress(ConnectionClosed):
            await handler(conn)

    def _endpoint(self, request: Request) -> Handler:
        parts = urlsplit(request.path)
        for route in self.routes:
            match = route.pattern.fullmatch(parts.path)
            if match:
                params = {k: unquote(v) for k, v in match.groupdict().items()}
                target = Target.parse(parts.path, parts.query, request.headers, params)
                return route.endpoint(target)
        raise HttpError(
            http.HTTPStatus.NOT_FOUND,
            f"no endpoint at {parts.path}; try one of {', '.join(ENDPOINT_PATHS)}",
        )


#: The endpoints, as documented in the README.
ENDPOINT_PATHS = (
    "/echo",
    "/chat/{room}",
    "/rpc",
    "/ticker",
    "/close",
    "/auth",
    "/subprotocol",
    "/heartbeat",
    "/fragmented",
    "/large",
    "/tls",
    "/login",
    "/whoami",
    "/session",
    "/socket.io/",
    "/graphql",
    *BROKER_PATHS,
)


def _routes(rooms: Rooms, sessions: Sessions, socketio: SocketIoServers) -> tuple[Route, ...]:
    table: dict[str, Callable[[Target], Handler]] = {
        "/echo": endpoints.echo,
        "/chat/(?P<room>[^/]+)": rooms.endpoint,
        "/rpc": rpc,
        "/ticker": endpoints.ticker,
        "/close": endpoints.close,
        "/auth": endpoints.auth,
        "/subprotocol": endpoints.subprotocol,
        "/heartbeat": endpoints.heartbeat,
        "/fragmented": endpoints.fragmented,
        "/large": endpoints.large,
        "/tls": endpoints.tls,
        "/pinger": pinger,
        "/session": sessions.session,
        "/socket.io/": socketio.endpoint,
        "/graphql": graphql,
    }
    return tuple(Route(re.compile(path), endpoint) for path, endpoint in table.items())
