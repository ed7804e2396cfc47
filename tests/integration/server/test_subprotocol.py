"""`/subprotocol`: negotiation of chat.v2 / chat.v1 (RFC 6455 4.2.2)."""

from __future__ import annotations

import pytest
from websockets.exceptions import InvalidStatus
from websockets.typing import Subprotocol

from runner.server import TestServer
from tests.integration.server.clients import open_ws, recv_json
from tests.support import timeout


@pytest.mark.parametrize(
    ("offered", "selected"),
    [
        (["chat.v1", "chat.v2"], "chat.v2"),
        (["chat.v1"], "chat.v1"),
        (["other", "chat.v1"], "chat.v1"),
        ([], None),
    ],
)
def test_subprotocol_picks_the_newest_offered_and_says_so(
    server: TestServer, offered: list[str], selected: str | None
) -> None:
    protocols = [Subprotocol(p) for p in offered] or None
    with open_ws(server, "/subprotocol", subprotocols=protocols) as ws:
        assert ws.subprotocol == selected
        assert recv_json(ws) == {"type": "subprotocol", "selected": selected}
        ws.send("after")
        assert ws.recv(timeout=timeout()) == "after"


def test_subprotocol_refuses_only_unknown_offers_with_400(server: TestServer) -> None:
    with pytest.raises(InvalidStatus) as caught:
        open_ws(server, "/subprotocol", subprotocols=[Subprotocol("chat.v9")])
    assert caught.value.response.status_code == 400
    assert b"expected one of chat.v2, chat.v1" in caught.value.response.body


def test_other_endpoints_select_no_subprotocol(server: TestServer) -> None:
    with open_ws(server, "/echo", subprotocols=[Subprotocol("chat.v1")]) as ws:
        assert ws.subprotocol is None
