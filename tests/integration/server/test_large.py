"""`/large`: one binary message of the asked size, then echo of large messages."""

from __future__ import annotations

import pytest
from websockets.exceptions import InvalidStatus

from runner.server import TestServer
from tests.integration.server.clients import open_ws
from tests.support import timeout

MIB = 1024 * 1024


@pytest.mark.parametrize("size", [0, 1, 300, 5 * MIB])
def test_large_sends_a_binary_message_of_the_asked_size(server: TestServer, size: int) -> None:
    with open_ws(server, f"/large?size={size}", max_size=16 * MIB) as ws:
        message = ws.recv(timeout=timeout())
    assert isinstance(message, bytes)
    assert len(message) == size
    assert message == (bytes(range(256)) * (size // 256 + 1))[:size]


def test_large_echoes_large_messages_back(server: TestServer) -> None:
    payload = bytes(range(7)) * (2 * MIB // 7)
    with open_ws(server, "/large?size=1", max_size=16 * MIB) as ws:
        ws.recv(timeout=timeout())
        ws.send(payload)
        assert ws.recv(timeout=timeout()) == payload


def test_large_refuses_more_than_16_mib(server: TestServer) -> None:
    with pytest.raises(InvalidStatus) as caught:
        open_ws(server, f"/large?size={16 * MIB + 1}")
    assert caught.value.response.status_code == 400
