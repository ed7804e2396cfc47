"""Small pieces the endpoints share: the handler type, JSON sending, echo, background tasks."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any

from websockets.asyncio.server import ServerConnection

__all__ = ["Handler", "background", "dumps", "echo_messages", "send_json"]

#: Runs one accepted connection until it ends.
Handler = Callable[[ServerConnection], Awaitable[None]]


def dumps(value: object) -> str:
    """Compact JSON text, the form every endpoint sends."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


async def send_json(conn: ServerConnection, value: object) -> None:
    """Send `value` as one JSON text message."""
    await conn.send(dumps(value))


async def echo_messages(conn: ServerConnection) -> None:
    """Send every message back as it came, text as text and binary as binary."""
    async for message in conn:
        await conn.send(message)


@contextlib.asynccontextmanager
async def background(work: Coroutine[Any, Any, None]) -> AsyncIterator[asyncio.Task[None]]:
    """Run `work` as a task while the block runs; cancel it when the block ends."""
    task = asyncio.create_task(work)
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
