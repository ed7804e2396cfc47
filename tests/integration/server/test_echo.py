"""`/echo`, and the answers to paths and requests that no endpoint serves."""

from __future__ import annotations

import pytest
from websockets.exceptions import InvalidStatus

from runner.server import TestServer
from tests.integration.server.clients import http_get, open_ws
from tests.support import timeout


def test_echo_sends_text_back_as_text(server: TestServer) -> None:
    with open_ws(server, "/echo") as ws:
        ws.send("héllo")
        assert ws.recv(timeout=timeout()) == "héllo"


def test_echo_sends_binary_back_as_binary(server: TestServer) -> None:
    with open_ws(server, "/echo") as ws:
        ws.send(b"\x00\xff\x10")
        assert ws.recv(timeout=timeout()) == b"\x00\xff\x10"


def test_echo_keeps_the_order_of_many_messages(server: TestServer) -> None:
    with open_ws(server, "/echo") as ws:
        for i in range(200):
            ws.send(str(i))
        assert [ws.recv(timeout=timeout()) for _ in range(200)] == [str(i) for i in range(200)]


def test_unknown_path_is_refused_with_404_naming_the_endpoints(server: TestServer) -> None:
    with pytest.raises(InvalidStatus) as caught:
        open_ws(server, "/nowhere")
    assert caught.value.response.status_code == 404
    body = caught.value.response.body.decode()
    assert "no endpoint at /nowhere" in body
    assert "/echo" in body


def test_plain_http_request_to_an_endpoint_is_told_to_upgrade(server: TestServer) -> None:
    assert http_get(server, "/echo").startswith("HTTP/1.1 426")


def test_server_declines_compression_the_client_offers(server: TestServer) -> None:
    with open_ws(server, "/echo") as ws:  # offers permessage-deflate
        assert ws.response is not None
        assert "Sec-WebSocket-Extensions" not in ws.response.headers
