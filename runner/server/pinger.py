"""`/pinger`: an endpoint that pings at the application level and wants its pongs.

`/pinger?count=N&interval=MS` sends, N times and MS apart, an Engine.IO-like ping ``2`` (the
answer must be ``3``) and then ``{"type": "ping", "id": i}`` (the answer must be
``{"type": "pong", "id": i}``); other messages meanwhile are echoed. Once every pong came it
sends ``{"type": "done", "pongs": 2N}``. A wrong or late answer gets
``{"type": "error", "expected": ..., "found": ...}`` and the close 1008 (policy violation).
"""

from __future__ import annotations

import asyncio
import json

from websockets.asyncio.server import ServerConnection

from runner.server.common import Handler, send_json
from runner.server.target import Target

__all__ = ["pinger"]

_ANSWER_WAIT = 2.0  # seconds a pong may take


def pinger(target: Target) -> Handler:
    """The `/pinger` endpoint (see the module's docstring)."""
    count = target.integer("count", 3, 1, 1000)
    interval = target.seconds("interval", 20, 0, 10_000)

    async def run(conn: ServerConnection) -> None:
        for i in range(1, count + 1):
            await asyncio.sleep(interval)
            for ping, pong in (("2", "3"), (_ping(i), _pong(i))):
                await conn.send(ping)
                if not await _answered(conn, pong):
                    return
        await send_json(conn, {"type": "done", "pongs": 2 * count})
        async for message in conn:
            await conn.send(message)

    return run


def _ping(i: int) -> str:
    return json.dumps({"type": "ping", "id": i}, separators=(",", ":"))


def _pong(i: int) -> str:
    return json.dumps({"type": "pong", "id": i}, separators=(",", ":"))


async def _answered(conn: ServerConnection, pong: str) -> bool:
    """Wait for `pong`, echoing other messages; on a wrong kind of answer or none, fail."""
    while True:
        try:
            message = await asyncio.wait_for(conn.recv(), _ANSWER_WAIT)
        except TimeoutError:
            message = None
        if message == pong:
            return True
        if isinstance(message, str) and _is_pong_like(message):
            break
        if message is None:
            break
        await conn.send(message)
    await send_json(conn, {"type": "error", "expected": pong, "found": message})
    await conn.close(1008, "wrong or missing pong")
    return False


def _is_pong_like(message: str) -> bool:
    return message == "3" or '"pong"' in message
