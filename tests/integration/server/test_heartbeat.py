"""`/heartbeat`: periodic heartbeats interleaved with echoes."""

from __future__ import annotations

import json

import pytest
from websockets.exceptions import InvalidStatus

from runner.server import TestServer
from tests.integration.server.clients import open_ws, recv_json
from tests.support import timeout


def test_heartbeats_arrive_while_messages_are_echoed(server: TestServer) -> None:
    with open_ws(server, "/heartbeat?interval=20") as ws:
        beats = [recv_json(ws) for _ in range(3)]
        ws.send("payload")
        noise = []
        while (message := ws.recv(timeout=timeout())) != "payload":
            noise.append(json.loads(message))
        after = recv_json(ws)
    assert beats == [{"type": "heartbeat", "seq": seq} for seq in (1, 2, 3)]
    assert [beat["seq"] for beat in noise] == list(range(4, 4 + len(noise)))
    assert after["seq"] == 4 + len(noise)  # the heartbeats go on after the echo


def test_heartbeat_refuses_a_too_short_interval(server: TestServer) -> None:
    with pytest.raises(InvalidStatus) as caught:
        open_ws(server, "/heartbeat?interval=1")
    assert caught.value.response.status_code == 400
