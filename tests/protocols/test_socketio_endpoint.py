"""The built-in server's `/socket.io/` endpoint (python-socketio bridged into the `websockets`
server), with a plain `websockets` client speaking raw Engine.IO/Socket.IO frames."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
import websockets
from websockets.exceptions import InvalidStatus

from runner.server.running import TestServer
from tests.support import timeout


@pytest.fixture(scope="module")
def server() -> Iterator[TestServer]:
    with TestServer() as running:
        yield running


def exchange(url: str, *sent: str, replies: int) -> list[str]:
    """Open, answer the open packet with ``40``, send `sent`; the next `replies` frames."""

    async def go() -> list[str]:
        async with websockets.connect(url) as ws:
            opened = json.loads(str(await ws.recv())[1:])
            assert set(opened) >= {"sid", "pingInterval", "pingTimeout"}
            await ws.send("40")
            assert str(await ws.recv()).startswith('40{"sid":')
            for frame in sent:
                await ws.send(frame)
            return [str(await ws.recv()) for _ in range(replies)]

    return asyncio.run(asyncio.wait_for(go(), timeout(5)))


def test_events_acks_rooms_and_the_admin_namespace(server: TestServer) -> None:
    url = f"{server.url}/socket.io/?EIO=4&transport=websocket"
    assert exchange(url, '421["sum",1,2,3.5]', '422["echo","a",{"b":1}]', replies=2) == [
        "431[6.5]",
        '432["a",{"b":1}]',
    ]
    joined, said = exchange(
        url, '421["join","r1"]', '42["say",{"room":"r1","text":"hi"}]', replies=2
    )
    assert joined == '431[{"room":"r1","members":1}]'
    assert said.startswith('42["said",{"room":"r1","from":"') and said.endswith('","text":"hi"}]')
    refused, accepted, whoami = exchange(
        url,
        '40/admin,{"token":"wrong"}',
        '40/admin,{"token":"secret","user":"carol"}',
        '42/admin,7["whoami"]',
        replies=3,
    )
    assert refused == '44/admin,{"message":"bad token"}'
    assert accepted.startswith('40/admin,{"sid":')
    assert whoami.startswith('43/admin,7[{"sid":') and whoami.endswith(',"user":"carol"}]')
    assert exchange(url, '42["malformed"]', replies=1) == ["42[this is not JSON"]


def test_ping_interval_and_bad_parameters(server: TestServer) -> None:
    url = f"{server.url}/socket.io/?EIO=4&transport=websocket&pingInterval=100"
    assert exchange(url, replies=1) == ["2"]  # an Engine.IO ping within 0.1 s

    async def refused(query: str) -> int:
        with pytest.raises(InvalidStatus) as caught:
            async with websockets.connect(f"{server.url}/socket.io/?{query}"):
                pass
        return caught.value.response.status_code

    for query in (
        "EIO=3&transport=websocket",
        "EIO=4&transport=polling",
        "pingInterval=5",
        "pingTimeout=9",
    ):
        assert asyncio.run(refused(query)) == 400, query
    with pytest.raises(urllib.error.HTTPError) as caught:  # plain HTTP (long-polling): refused
        urllib.request.urlopen(f"http://127.0.0.1:{server.port}/socket.io/?EIO=4&transport=polling")
    caught.value.close()
    assert caught.value.code == 400  # transport must be websocket
