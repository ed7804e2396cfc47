"""`/rpc`: JSON requests and responses matched by id, plus unsolicited notifications.

A request is ``{"id": 1, "method": "add", "params": [1, 2]}``; its response is
``{"id": 1, "result": 3}`` or ``{"id": 1, "error": {"code": -32601, "message": "..."}}``.
Requests run concurrently, so a slow `sleep` answers after a quick `add` sent later. Error
codes follow JSON-RPC 2.0.

A request with ``"jsonrpc": "2.0"`` is answered in JSON-RPC 2.0, as the `json-rpc` protocol of
`connect` speaks it: its response carries ``"jsonrpc": "2.0"``, a notification (no ``id``) gets
no response, and a subscription's pushes are notifications
``{"jsonrpc": "2.0", "method": "notification", "params": {"subscription": 1, "topic": ...,
"seq": 1}}``. A request without it gets the shapes above.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from runner.server.common import Handler, send_json
from runner.server.target import Target

__all__ = ["METHODS", "RpcError", "rpc"]

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602

_MAX_SLEEP_MS = 60_000


class RpcError(Exception):
    """A request failed; becomes the response's `error` member."""

    def __init__(self, code: int, message: str) -> None:
        self.code = code
        self.message = message
        super().__init__(code, message)


class _Session:
    """One connection: its running requests and its subscriptions."""

    def __init__(self, conn: ServerConnection) -> None:
        self.conn = conn
        self.tasks: set[asyncio.Task[None]] = set()
        self.subscriptions = 0
        self.calls_of_next = 0

    def spawn(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def cancel_all(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


def rpc(target: Target) -> Handler:
    """`/rpc`: answer each request; see `METHODS` for what it can do."""

    async def run(conn: ServerConnection) -> None:
        session = _Session(conn)
        try:
            async for message in conn:
                session.spawn(_answer(session, message))
        finally:
            await session.cancel_all()

    return run


async def _answer(session: _Session, message: str | bytes) -> None:
    """Answer one request; a connection closed meanwhile just ends the work."""
    request = _parse(message)
    v2 = isinstance(request, dict) and request.get("jsonrpc") == "2.0"
    result, response = await _respond(session, request)
    try:
        if v2 and isinstance(request, dict) and "id" not in request:
            pass  # a 2.0 notification: no response (JSON-RPC 2.0 section 4.1)
        elif v2:
            await send_json(session.conn, {"jsonrpc": "2.0", **response})
        else:
            await send_json(session.conn, response)
        if isinstance(result, _Subscription):
            await _notify(session, result, v2=v2)
    except ConnectionClosed:
        return


async def _respond(session: _Session, request: object) -> tuple[object, dict[str, object]]:
    """The result of a request (None after an error) and the response to send."""
    request_id = request.get("id") if isinstance(request, dict) else None
    try:
        result = await _call(session, request)
    except RpcError as exc:
        return None, {"id": request_id, "error": {"code": exc.code, "message": exc.message}}
    shown = result.as_json() if isinstance(result, _Subscription) else result
    return result, {"id": request_id, "result": shown}


def _parse(message: str | bytes) -> object:
    """The JSON value of a text message, or the `RpcError` that answers it."""
    if isinstance(message, bytes):
        return RpcError(INVALID_REQUEST, "expected a text message, found binary")
    try:
        return json.loads(message)
    except ValueError as exc:
        return RpcError(PARSE_ERROR, f"invalid JSON: {exc}")


async def _call(session: _Session, request: object) -> object:
    if isinstance(request, RpcError):
        raise request
    if not isinstance(request, dict) or not isinstance(request.get("method"), str):
        raise RpcError(INVALID_REQUEST, 'expected an object with a string "method"')
    method = METHODS.get(request["method"])
    if method is None:
        raise RpcError(
            METHOD_NOT_FOUND,
            f"unknown method {request['method']!r}; expected one of {', '.join(METHODS)}",
        )
    return await method(session, request.get("params"))


async def _add(session: _Session, params: object) -> object:
    numbers = params if isinstance(params, list) else None
    if not numbers or not all(_is_number(n) for n in numbers):
        raise RpcError(INVALID_PARAMS, "add expects a list of numbers, such as [1, 2]")
    return sum(numbers)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


async def _echo(session: _Session, params: object) -> object:
    return params


async def _upper(session: _Session, params: object) -> object:
    text = params[0] if isinstance(params, list) and len(params) == 1 else params
    if not isinstance(text, str):
        raise RpcError(INVALID_PARAMS, 'upper expects a string, such as "abc" or ["abc"]')
    return text.upper()


async def _sleep(session: _Session, params: object) -> object:
    ms = params[0] if isinstance(params, list) and len(params) == 1 else params
    if not isinstance(ms, int) or isinstance(ms, bool) or not 0 <= ms <= _MAX_SLEEP_MS:
        raise RpcError(INVALID_PARAMS, f"sleep expects milliseconds from 0 to {_MAX_SLEEP_MS}")
    await asyncio.sleep(ms / 1000)
    return ms


async def _next(session: _Session, params: object) -> object:
    """A counter of the connection: 1 at the first call, then 2, ... (something to poll)."""
    session.calls_of_next += 1
    return session.calls_of_next


@dataclass(frozen=True)
class _Subscription:
    id: int
    topic: str
    count: int
    interval_ms: int

    def as_json(self) -> dict[str, object]:
        return {"subscription": self.id, "topic": self.topic, "count": self.count}


async def _subscribe(session: _Session, params: object) -> object:
    options = params if isinstance(params, dict) else {}
    topic = options.get("topic", "news")
    count = options.get("count", 3)
    interval = options.get("interval", 50)
    if not (isinstance(topic, str) and _is_count(count, 1000) and _is_count(interval, 60_000)):
        raise RpcError(
            INVALID_PARAMS,
            'subscribe expects {"topic": str, "count": 0-1000, "interval": 0-60000 ms}',
        )
    session.subscriptions += 1
    return _Subscription(session.subscriptions, topic, count, interval)


def _is_count(value: object, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= high


async def _notify(session: _Session, subscription: _Subscription, *, v2: bool = False) -> None:
    """Push the notifications of a subscription, after its response went out (as JSON-RPC 2.0
    notifications when it was asked in 2.0)."""
    for seq in range(1, subscription.count + 1):
        await asyncio.sleep(subscription.interval_ms / 1000)
        push: dict[str, object] = {
            "subscription": subscription.id,
            "topic": subscription.topic,
            "seq": seq,
        }
        message: dict[str, object]
        if v2:
            message = {"jsonrpc": "2.0", "method": "notification", "params": push}
        else:
            message = {"type": "notification", **push}
        await send_json(session.conn, message)


#: The methods of `/rpc`, by name.
METHODS: dict[str, Callable[[_Session, object], Awaitable[object]]] = {
    "add": _add,
    "echo": _echo,
    "upper": _upper,
    "sleep": _sleep,
    "next": _next,
    "subscribe": _subscribe,
}
