"""The built-in server's `/graphql` endpoint, with a plain `websockets` client: the closes of
the graphql-transport-ws protocol it sends as the reference server (graphql-ws) does."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from runner.server.running import TestServer
from tests.support import timeout


@pytest.fixture(scope="module")
def server() -> Iterator[TestServer]:
    with TestServer() as running:
        yield running


def closed_with(url: str, *messages: object, subprotocol: bool = True) -> tuple[int, str]:
    """Send `messages` (JSON, or text as it is); the close code and reason the server sent."""

    async def go() -> tuple[int, str]:
        offered = [websockets.Subprotocol("graphql-transport-ws")] if subprotocol else None
        async with websockets.connect(url, subprotocols=offered) as ws:
            for message in messages:
                await ws.send(message if isinstance(message, str) else json.dumps(message))
            try:
                while True:
                    await ws.recv()
            except ConnectionClosed as closed:
                assert closed.rcvd is not None
                return closed.rcvd.code, closed.rcvd.reason

    return asyncio.run(asyncio.wait_for(go(), timeout(5)))


INIT = {"type": "connection_init", "payload": {"token": "secret"}}
SUB = {"id": "1", "type": "subscribe", "payload": {"query": "subscription { count(to: 50) }"}}


@pytest.mark.parametrize(
    ("messages", "code", "reason"),
    [
        ([{"type": "connection_init", "payload": {"token": "x"}}], 4403, "Forbidden"),
        ([{"type": "connection_init"}], 4403, "Forbidden"),
        (["not json"], 4400, "Invalid message received: not JSON"),
        ([{"no": "type"}], 4400, 'Invalid message received: no "type"'),
        ([SUB], 4401, "Unauthorized"),
        ([INIT, INIT], 4429, "Too many initialisation requests"),
        ([INIT, SUB, SUB], 4409, "Subscriber for 1 already exists"),
        (
            [INIT, {"type": "next", "id": "1"}],
            4400,
            "Unexpected message of type next from the client",
        ),
    ],
)
def test_the_protocols_closes(
    server: TestServer, messages: list[object], code: int, reason: str
) -> None:
    assert closed_with(f"{server.url}/graphql", *messages) == (code, reason)


def test_without_the_subprotocol_it_closes_4406(server: TestServer) -> None:
    assert closed_with(f"{server.url}/graphql", subprotocol=False) == (
        4406,
        "Subprotocol not acceptable",
    )


def test_complete_stops_a_running_subscription(server: TestServer) -> None:
    async def go() -> list[dict[str, object]]:
        offered = [websockets.Subprotocol("graphql-transport-ws")]
        async with websockets.connect(f"{server.url}/graphql", subprotocols=offered) as ws:
            await ws.send(json.dumps(INIT))
            assert json.loads(await ws.recv()) == {"type": "connection_ack"}
            slow = {"query": "subscription { count(to: 1000, interval: 20) }"}
            await ws.send(json.dumps({"id": "s", "type": "subscribe", "payload": slow}))
            first = json.loads(await ws.recv())
            await ws.send(json.dumps({"id": "s", "type": "complete"}))
            await ws.send(
                json.dumps({"id": "q", "type": "subscribe", "payload": {"query": "{ hello }"}})
            )
            later = [json.loads(await ws.recv()) for _ in range(2)]
            with pytest.raises(TimeoutError):  # nothing more of "s"
                await asyncio.wait_for(ws.recv(), 0.2)
            return [first, *later]

    first, *later = asyncio.run(asyncio.wait_for(go(), timeout(5)))
    assert first == {"id": "s", "type": "next", "payload": {"data": {"count": 1}}}
    assert [m for m in later if m["id"] == "q"] == [
        {"id": "q", "type": "next", "payload": {"data": {"hello": "hello world"}}},
        {"id": "q", "type": "complete"},
    ]
