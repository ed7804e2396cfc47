"""`/graphql`: GraphQL over WebSocket (graphql-transport-ws), executing a small schema with
graphql-core (imported when the first connection comes).

The protocol side is written here after the protocol's text (graphql-ws's PROTOCOL.md) and
closes as the reference server does: 4400 for a message it cannot read, 4401 for a subscribe
before the ack, 4403 when connection_init's payload lacks ``{"token": "secret"}``, 4408 when no
connection_init comes within 10 s, 4409 for an id already running, 4429 for a second
connection_init. The subprotocol ``graphql-transport-ws`` must be offered.

The schema::

    type Query {
      hello(name: String): String      # "hello NAME" ("hello world")
      add(a: Int!, b: Int!): Int
      sleep(ms: Int!): Int             # answers after ms milliseconds (0 to 60000)
      pongs: Int                       # the pongs this connection sent back
      malformed: Boolean               # sends a frame that is not JSON first
    }
    type Subscription {
      count(to: Int!, interval: Int = 10): Int   # 1, 2, ... to, one every interval ms
    }

``?ping=MS`` (10 to 60000): the server sends ``{"type": "ping"}`` every MS milliseconds once
the connection is acknowledged.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from runner.server.common import Handler, dumps
from runner.server.target import Target

if TYPE_CHECKING:
    from graphql import GraphQLSchema

__all__ = ["PATH", "SUBPROTOCOL", "graphql"]

PATH = "/graphql"
SUBPROTOCOL = "graphql-transport-ws"

_TOKEN = "secret"
_INIT_TIMEOUT = 10.0
_MAX_MS = 60_000

_SDL = """
type Query {
  hello(name: String): String
  add(a: Int!, b: Int!): Int
  sleep(ms: Int!): Int
  pongs: Int
  malformed: Boolean
}
type Subscription {
  count(to: Int!, interval: Int = 10): Int
}
"""

_schema: GraphQLSchema | None = None


def graphql(target: Target) -> Handler:
    """`/graphql[?ping=MS]`."""
    ping = target.query.get("ping")
    interval = target.seconds("ping", 0, 10, _MAX_MS) if ping is not None else None

    async def run(conn: ServerConnection) -> None:
        if conn.subprotocol != SUBPROTOCOL:
            await conn.close(4406, "Subprotocol not acceptable")  # graphql-ws's code for it
            return
        await _Session(conn, _the_schema(), interval).run()

    return run


def _the_schema() -> GraphQLSchema:
    global _schema
    if _schema is None:
        from graphql import build_schema

        _schema = build_schema(_SDL)
    return _schema


class _Closing(Exception):
    def __init__(self, code: int, reason: str) -> None:
        self.code = code
        self.reason = reason


class _Session:
    """One connection: acknowledged or not, its running operations, its pongs."""

    def __init__(self, conn: ServerConnection, schema: GraphQLSchema, ping: float | None):
        self.conn = conn
        self.schema = schema
        self.ping = ping
        self.acked = False
        self.pongs = 0
        self.operations: dict[str, asyncio.Task[None]] = {}
        self.tasks: set[asyncio.Task[None]] = set()

    async def run(self) -> None:
        try:
            try:
                async with asyncio.timeout(_INIT_TIMEOUT):
                    await self._receive(await self.conn.recv())
            except TimeoutError:
                raise _Closing(4408, "Connection initialisation timeout") from None
            async for message in self.conn:
                await self._receive(message)
        except _Closing as closing:
            await self.conn.close(closing.code, closing.reason)
        finally:
            for task in [*self.operations.values(), *self.tasks]:
                task.cancel()
            await asyncio.gather(*self.operations.values(), *self.tasks, return_exceptions=True)

    async def _receive(self, frame: str | bytes) -> None:
        message = _parse(frame)
        kind = message["type"]
        if kind == "connection_init":
            if self.acked:
                raise _Closing(4429, "Too many initialisation requests")
            payload = message.get("payload")
            if not isinstance(payload, dict) or payload.get("token") != _TOKEN:
                raise _Closing(4403, "Forbidden")
            self.acked = True
            await self.conn.send(dumps({"type": "connection_ack"}))
            if self.ping is not None:
                self._spawn(self._pinger(self.ping))
        elif kind == "ping":
            await self.conn.send(dumps({"type": "pong"}))
        elif kind == "pong":
            self.pongs += 1
        elif not self.acked:
            raise _Closing(4401, "Unauthorized")
        elif kind == "subscribe":
            operation = message.get("id")
            payload = message.get("payload")
            if not isinstance(operation, str) or not isinstance(payload, dict):
                raise _Closing(4400, 'subscribe needs an "id" string and a "payload" object')
            if operation in self.operations:
                raise _Closing(4409, f"Subscriber for {operation} already exists")
            task = asyncio.create_task(self._operation(operation, payload))
            self.operations[operation] = task
            task.add_done_callback(lambda done: self._finished(operation, done))
        elif kind == "complete":
            running = self.operations.get(str(message.get("id")))
            if running is not None:
                running.cancel()
        else:
            raise _Closing(4400, f"Unexpected message of type {kind} from the client")

    def _finished(self, operation: str, task: asyncio.Task[None]) -> None:
        if self.operations.get(operation) is task:
            del self.operations[operation]

    def _spawn(self, work: Any) -> None:
        task = asyncio.create_task(work)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _pinger(self, interval: float) -> None:
        with contextlib.suppress(ConnectionClosed):
            while True:
                await asyncio.sleep(interval)
                await self.conn.send(dumps({"type": "ping"}))

    async def _operation(self, operation: str, payload: dict[str, Any]) -> None:
        with contextlib.suppress(ConnectionClosed):
            errors = await self._results(operation, payload)
            if errors is not None:
                await self.conn.send(dumps({"id": operation, "type": "error", "payload": errors}))
            else:
                await self.conn.send(dumps({"id": operation, "type": "complete"}))

    async def _results(self, operation: str, payload: dict[str, Any]) -> list[Any] | None:
        """Send the `next` messages of an operation; the errors that stop it before any
        result (a document that does not parse or validate), or None."""
        from graphql import (
            ExecutionResult,
            GraphQLError,
            OperationType,
            execute,
            get_operation_ast,
            parse,
            subscribe,
            validate,
        )

        query = payload.get("query")
        variables = payload.get("variables")
        name = payload.get("operationName")
        if not isinstance(query, str):
            return [{"message": 'the payload needs a "query" string'}]
        try:
            document = parse(query)
        except GraphQLError as exc:
            return [exc.formatted]
        invalid = validate(self.schema, document)
        if invalid:
            return [error.formatted for error in invalid]
        ast = get_operation_ast(document, name if isinstance(name, str) else None)
        arguments: dict[str, Any] = {
            "schema": self.schema,
            "document": document,
            "root_value": _Root(self),
            "variable_values": variables if isinstance(variables, dict) else None,
            "operation_name": name if isinstance(name, str) else None,
        }
        if ast is not None and ast.operation == OperationType.SUBSCRIPTION:
            # graphql-core 3.2's subscribe is a coroutine; 3.3's returns a value or an awaitable
            started = subscribe(**arguments)
            stream = await started if inspect.isawaitable(started) else started
            if isinstance(stream, ExecutionResult):
                return [error.formatted for error in stream.errors or []]
            async for result in stream:
                await self._next(operation, result)
            return None
        executed = execute(**arguments)
        result = executed if isinstance(executed, ExecutionResult) else await executed
        await self._next(operation, result)
        return None

    async def _next(self, operation: str, result: Any) -> None:
        await self.conn.send(dumps({"id": operation, "type": "next", "payload": result.formatted}))


class _Root:
    """The root value: the schema's resolvers (graphql-core's default resolver calls them)."""

    def __init__(self, session: _Session) -> None:
        self.session = session

    def hello(self, info: Any, name: str | None = None) -> str:
        return f"hello {name or 'world'}"

    def add(self, info: Any, a: int, b: int) -> int:
        return a + b

    async def sleep(self, info: Any, ms: int) -> int:
        if not 0 <= ms <= _MAX_MS:
            raise ValueError(f"sleep expects milliseconds from 0 to {_MAX_MS}")
        await asyncio.sleep(ms / 1000)
        return ms

    def pongs(self, info: Any) -> int:
        return self.session.pongs

    async def malformed(self, info: Any) -> bool:
        await self.session.conn.send("{this is not JSON")
        return True

    async def count(self, info: Any, to: int, interval: int = 10) -> AsyncIterator[dict[str, int]]:
        if not 0 <= interval <= _MAX_MS or not 0 <= to <= 1000:
            raise ValueError(f"count expects to from 0 to 1000 and interval 0 to {_MAX_MS} ms")
        for n in range(1, to + 1):
            await asyncio.sleep(interval / 1000)
            yield {"count": n}


def _parse(frame: str | bytes) -> dict[str, Any]:
    """A client message, or the 4400 close that answers it."""
    if isinstance(frame, bytes):
        raise _Closing(4400, "Invalid message received: binary")
    try:
        message = json.loads(frame)
    except ValueError:
        raise _Closing(4400, "Invalid message received: not JSON") from None
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        raise _Closing(4400, 'Invalid message received: no "type"')
    return message
