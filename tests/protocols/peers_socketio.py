"""A real, independent Socket.IO server for the socket.io protocol's tests: python-socketio's
AsyncServer, served by uvicorn (ASGI) on 127.0.0.1 and a free port.

Events of `/`: ``sum`` acks the sum of its arguments; ``slow`` never acks; ``blob`` acks and
emits ``blob`` with a binary argument (an attachment); ``garbage`` makes the server send
``42[not json``; ``ask`` calls the client's ``question`` (with an ack) and emits ``answered``
with the client's answer. The namespace ``/private`` refuses any auth but
``{"token": "letmein"}`` with the message ``token rejected``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import socketio

from tests.support import uvicorn_server


def make_server(
    ping_interval: float, ping_timeout: float, cors: str | None
) -> socketio.AsyncServer:
    sio = socketio.AsyncServer(
        async_mode="asgi",
        ping_interval=ping_interval,
        ping_timeout=ping_timeout,
        cors_allowed_origins=cors,
    )

    async def total(sid: str, *numbers: float) -> float:
        return sum(numbers)

    async def slow(sid: str, *args: Any) -> None:
        await asyncio.sleep(30)

    async def blob(sid: str, *args: Any) -> str:
        await sio.emit("blob", ("bytes:", b"\x00\x01\xfe"), to=sid)
        return "sent"

    async def garbage(sid: str, *args: Any) -> None:
        await sio.eio.send(sio.manager.eio_sid_from_sid(sid, "/"), "2[not json")

    async def ask(sid: str, *args: Any) -> None:
        answer = await sio.call("question", {"q": "ready?"}, to=sid, timeout=5)
        await sio.emit("answered", answer, to=sid)

    async def private(sid: str, environ: Any, auth: Any = None) -> None:
        if not isinstance(auth, dict) or auth.get("token") != "letmein":
            raise socketio.exceptions.ConnectionRefusedError("token rejected")

    async def secret(sid: str, *args: Any) -> str:
        return "42"

    for name, handler in [
        ("sum", total), ("slow", slow), ("blob", blob), ("garbage", garbage), ("ask", ask)
    ]:  # fmt: skip
        sio.on(name, handler)
    sio.on("connect", private, namespace="/private")
    sio.on("secret", secret, namespace="/private")
    return sio


@contextmanager
def socketio_peer(
    ping_interval: float = 25, ping_timeout: float = 20, cors: str | None = "*"
) -> Iterator[str]:
    """The server on 127.0.0.1 and a free port; yields its ``ws://`` base URL; stopped on exit.

    `cors`: python-socketio's ``cors_allowed_origins``; None is its default, which accepts only
    an ``Origin`` equal to the server's own, port included."""
    app = socketio.ASGIApp(make_server(ping_interval, ping_timeout, cors))
    with uvicorn_server(app, "ws") as url:
        yield url
