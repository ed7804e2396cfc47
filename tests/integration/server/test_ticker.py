"""`/ticker`: N ticks at an interval, then a normal close."""

from __future__ import annotations

import time

import pytest
from websockets.exceptions import ConnectionClosedOK, InvalidStatus

from runner.server import TestServer
from tests.integration.server.clients import open_ws, recv_json
from tests.support import timeout


def test_ticker_pushes_count_ticks_then_closes_1000(server: TestServer) -> None:
    with open_ws(server, "/ticker?count=4&interval=50") as ws:
        started = time.monotonic()
        ticks = [recv_json(ws) for _ in range(4)]
        elapsed = time.monotonic() - started
        with pytest.raises(ConnectionClosedOK):
            ws.recv(timeout=timeout())
    assert ticks == [{"type": "tick", "seq": seq} for seq in (1, 2, 3, 4)]
    assert elapsed >= 0.14  # three intervals between four ticks
    assert ws.close_code == 1000
    assert ws.close_reason == "done"


def test_ticker_with_count_zero_just_closes(server: TestServer) -> None:
    with open_ws(server, "/ticker?count=0") as ws, pytest.raises(ConnectionClosedOK):
        ws.recv(timeout=timeout())
    assert ws.close_code == 1000


@pytest.mark.parametrize("query", ["count=x", "count=-1", "interval=99999999"])
def test_ticker_refuses_bad_parameters_with_400(server: TestServer, query: str) -> None:
    with pytest.raises(InvalidStatus) as caught:
        open_ws(server, f"/ticker?{query}")
    assert caught.value.response.status_code == 400
    assert b"must be an integer from" in caught.value.response.body
