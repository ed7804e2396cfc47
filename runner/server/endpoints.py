"""The simple endpoints: echo, ticker, close, auth, subprotocol, heartbeat, fragmented, large.

Each endpoint is a factory: it reads and checks its parameters from the handshake's `Target`
(raising `HttpError` to refuse it) and returns the `Handler` that serves the connection.
"""

from __future__ import annotations

import asyncio
import http
from collections.abc import Sequence

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed, NegotiationError
from websockets.typing import Subprotocol

from runner.rfc6455 import (
    MAX_CLOSE_REASON_BYTES,
    SENDABLE_CLOSE_CODES,
    close_reason_problem,
    is_sendable_close_code,
)
from runner.server.common import Handler, background, echo_messages, send_json
from runner.server.target import HttpError, Target

__all__ = [
    "MAX_SIZE",
    "SUBPROTOCOLS",
    "auth",
    "close",
    "echo",
    "fragmented",
    "heartbeat",
    "large",
    "select_subprotocol",
    "subprotocol",
    "ticker",
    "tls",
]

#: The largest message the server sends or accepts, in bytes.
MAX_SIZE = 16 * 1024 * 1024

#: The subprotocols `/subprotocol` speaks, most preferred first.
SUBPROTOCOLS = (Subprotocol("chat.v2"), Subprotocol("chat.v1"))

_MAX_WAIT_MS = 60_000
_MAX_FRAMES = 100_000


def echo(target: Target) -> Handler:
    """`/echo`: send every message back, text as text and binary as binary."""
    return echo_messages


def ticker(target: Target) -> Handler:
    """`/ticker?count=N&interval=MS`: push N ticks, one every MS, then close with 1000."""
    count = target.integer("count", 5, 0, 100_000)
    interval = target.seconds("interval", 100, 0, _MAX_WAIT_MS)

    async def run(conn: ServerConnection) -> None:
        for seq in range(1, count + 1):
            if seq > 1:
                await asyncio.sleep(interval)
            await send_json(conn, {"type": "tick", "seq": seq})
        await conn.close(1000, "done")

    return run


def close(target: Target) -> Handler:
    """`/close?code=C&reason=R&when=open|message`: close with that code and reason."""
    code = target.integer("code", 1000, 1000, 4999)
    if not is_sendable_close_code(code):
        raise HttpError(
            http.HTTPStatus.BAD_REQUEST,
            f"query parameter code must be {SENDABLE_CLOSE_CODES}, found {code}",
        )
    reason = target.query.get("reason", "")
    if close_reason_problem(reason) is not None:
        raise HttpError(
            http.HTTPStatus.BAD_REQUEST,
            f"query parameter reason must be at most {MAX_CLOSE_REASON_BYTES} bytes in UTF-8",
        )
    when = target.choice("when", "open", ("open", "message"))

    async def run(conn: ServerConnection) -> None:
        if when == "message":
            async for message in conn:
                if message == "close":
                    break
                await conn.send(message)
        await conn.close(code, reason)

    return run


def auth(target: Target) -> Handler:
    """`/auth`: refuse with 401 unless a token comes; greet with it, then echo."""
    token = _token(target)

    async def run(conn: ServerConnection) -> None:
        await send_json(conn, {"type": "welcome", "token": token})
        await echo_messages(conn)

    return run


def _token(target: Target) -> str:
    """The token of `Authorization: Bearer <token>` or of `X-Token: <token>`."""
    scheme, _, token = target.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    token = target.headers.get("X-Token", "").strip()
    if token:
        return token
    raise HttpError(
        http.HTTPStatus.UNAUTHORIZED,
        "missing token: send the header Authorization: Bearer <token> or X-Token: <token>",
        {"WWW-Authenticate": 'Bearer realm="wsrun"'},
    )


def select_subprotocol(offered: Sequence[Subprotocol]) -> Subprotocol | None:
    """Pick the most preferred of `SUBPROTOCOLS` the client offers.

    RFC 6455 4.2.2: the server selects one of the offered values or none. A client that offers
    none is served without a subprotocol; one that offers only unknown ones is refused (400).
    """
    for candidate in SUBPROTOCOLS:
        if candidate in offered:
            return candidate
    if offered:
        raise NegotiationError(
            f"unsupported subprotocols {', '.join(offered)}; expected one of "
            + ", ".join(SUBPROTOCOLS)
        )
    return None


def subprotocol(target: Target) -> Handler:
    """`/subprotocol`: say which subprotocol was negotiated, then echo."""

    async def run(conn: ServerConnection) -> None:
        await send_json(conn, {"type": "subprotocol", "selected": conn.subprotocol})
        await echo_messages(conn)

    return run


def heartbeat(target: Target) -> Handler:
    """`/heartbeat?interval=MS`: send a heartbeat every MS while echoing messages."""
    interval = target.seconds("interval", 200, 10, _MAX_WAIT_MS)

    async def beat(conn: ServerConnection) -> None:
        seq = 0
        while True:
            await asyncio.sleep(interval)
            seq += 1
            try:
                await send_json(conn, {"type": "heartbeat", "seq": seq})
            except ConnectionClosed:
                return

    async def run(conn: ServerConnection) -> None:
        async with background(beat(conn)):
            await echo_messages(conn)

    return run


def fragmented(target: Target) -> Handler:
    """`/fragmented?size=N&fragment=M`: answer each message with N bytes in M-byte fragments."""
    size = target.integer("size", 65_536, 1, MAX_SIZE)
    fragment = target.integer("fragment", 4096, 1, MAX_SIZE)
    if -(-size // fragment) > _MAX_FRAMES:
        raise HttpError(
            http.HTTPStatus.BAD_REQUEST,
            f"size / fragment must be at most {_MAX_FRAMES} fragments, found {size} / {fragment}",
        )

    async def run(conn: ServerConnection) -> None:
        async for message in conn:
            payload = _repeat(message, size)
            chunks = [payload[i : i + fragment] for i in range(0, len(payload), fragment)]
            # websockets sends the chunks as frames with FIN=0, then an empty final frame.
            await conn.send(chunks, text=isinstance(message, str))

    return run


def _repeat(message: str | bytes, size: int) -> bytes:
    """`message` repeated to `size` bytes; text is cut back to a whole UTF-8 character."""
    unit = (message.encode() if isinstance(message, str) else message) or b"."
    data = (unit * (size // len(unit) + 1))[:size]
    if isinstance(message, str):
        data = data.decode("utf-8", "ignore").encode()
    return data


def large(target: Target) -> Handler:
    """`/large?size=N`: send one binary message of N bytes (0, 1, ..., 255, 0, ...), then echo."""
    size = target.integer("size", 1024 * 1024, 0, MAX_SIZE)

    async def run(conn: ServerConnection) -> None:
        await conn.send(pattern(size))
        await echo_messages(conn)

    return run


def pattern(size: int) -> bytes:
    """The bytes `/large` sends: 0, 1, ..., 255, 0, 1, ... cut at `size`."""
    return (bytes(range(256)) * (size // 256 + 1))[:size]


def tls(target: Target) -> Handler:
    """`/tls`: say which client certificate the connection presented, then echo."""

    async def run(conn: ServerConnection) -> None:
        peer = conn.transport.get_extra_info("peercert") if conn.transport else None
        await send_json(conn, {"type": "tls", "client": _common_name(peer)})
        await echo_messages(conn)

    return run


def _common_name(certificate: object) -> str | None:
    """The subject's commonName of a certificate as `ssl` decodes it, if there is one."""
    subject = certificate.get("subject", ()) if isinstance(certificate, dict) else ()
    names = [value for rdn in subject for key, value in rdn if key == "commonName"]
    return names[0] if names else None
