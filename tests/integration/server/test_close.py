"""`/close`: close with the asked code and reason, at once or on the message `close`."""

from __future__ import annotations

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus

from runner.server import TestServer
from tests.integration.server.clients import open_ws
from tests.support import timeout


def test_close_at_once_with_code_and_reason(server: TestServer) -> None:
    with open_ws(server, "/close?code=4001&reason=go%20away") as ws:
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=timeout())
        assert ws.close_code == 4001
        assert ws.close_reason == "go away"


def test_close_defaults_to_1000_without_reason(server: TestServer) -> None:
    with open_ws(server, "/close") as ws:
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=timeout())
        assert (ws.close_code, ws.close_reason) == (1000, "")


def test_close_on_message_echoes_until_told_to_close(server: TestServer) -> None:
    with open_ws(server, "/close?code=1011&reason=bye&when=message") as ws:
        ws.send("still here")
        assert ws.recv(timeout=timeout()) == "still here"
        ws.send("close")
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=timeout())
        assert (ws.close_code, ws.close_reason) == (1011, "bye")


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("code=1005", b"code must be 1000-1003, 1007-1014 or 3000-4999, found 1005"),
        ("code=5000", b"code must be an integer from 1000 to 4999"),
        ("reason=" + "x" * 124, b"reason must be at most 123 bytes"),
        ("when=later", b"when must be one of open, message"),
    ],
)
def test_close_refuses_codes_and_reasons_rfc_6455_forbids(
    server: TestServer, query: str, message: bytes
) -> None:
    with pytest.raises(InvalidStatus) as caught:
        open_ws(server, f"/close?{query}")
    assert caught.value.response.status_code == 400
    assert message in caught.value.response.body
