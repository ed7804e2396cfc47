"""`/auth`: 401 without a token; a welcome and echo with one."""

from __future__ import annotations

import pytest
from websockets.exceptions import InvalidStatus

from runner.server import TestServer
from tests.integration.server.clients import open_ws, recv_json
from tests.support import timeout


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Basic dXNlcjpwdw=="}, {"Authorization": "Bearer "}]
)
def test_auth_without_a_bearer_token_is_refused_with_401(
    server: TestServer, headers: dict[str, str]
) -> None:
    with pytest.raises(InvalidStatus) as caught:
        open_ws(server, "/auth", additional_headers=headers)
    response = caught.value.response
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="wsrun"'
    assert b"missing token" in response.body


@pytest.mark.parametrize("headers", [{"Authorization": "Bearer s3cret"}, {"X-Token": "s3cret"}])
def test_auth_with_a_token_welcomes_then_echoes(
    server: TestServer, headers: dict[str, str]
) -> None:
    with open_ws(server, "/auth", additional_headers=headers) as ws:
        assert recv_json(ws) == {"type": "welcome", "token": "s3cret"}
        ws.send("ping")
        assert ws.recv(timeout=timeout()) == "ping"
