"""`/rpc`: results and errors matched by id, concurrency, notifications after subscribe."""

from __future__ import annotations

import json

import pytest

from runner.server import TestServer
from tests.integration.server.clients import open_ws, recv_json


def call(server: TestServer, request: object) -> object:
    with open_ws(server, "/rpc") as ws:
        ws.send(request if isinstance(request, str | bytes) else json.dumps(request))
        return recv_json(ws)


@pytest.mark.parametrize(
    ("method", "params", "result"),
    [
        ("add", [1, 2], 3),
        ("add", [1.5, 2, -1], 2.5),
        ("echo", {"a": [1, None]}, {"a": [1, None]}),
        ("upper", ["abc"], "ABC"),
        ("upper", "xyz", "XYZ"),
        ("sleep", [10], 10),
    ],
)
def test_methods_answer_with_the_request_id(
    server: TestServer, method: str, params: object, result: object
) -> None:
    assert call(server, {"id": 7, "method": method, "params": params}) == {
        "id": 7,
        "result": result,
    }


@pytest.mark.parametrize(
    ("request_", "code", "message"),
    [
        ({"id": 1, "method": "nope"}, -32601, "unknown method 'nope'"),
        ({"id": 2, "method": "add", "params": ["x"]}, -32602, "add expects"),
        ({"id": 3, "method": "sleep", "params": [-1]}, -32602, "sleep expects"),
        ({"id": 4}, -32600, '"method"'),
        ("{not json", -32700, "invalid JSON"),
        (b"\x00", -32600, "binary"),
    ],
)
def test_errors_carry_a_code_and_a_message(
    server: TestServer, request_: object, code: int, message: str
) -> None:
    response = call(server, request_)
    assert isinstance(response, dict)
    assert response["id"] == (request_.get("id") if isinstance(request_, dict) else None)
    assert response["error"]["code"] == code
    assert message in response["error"]["message"]


def test_requests_run_concurrently(server: TestServer) -> None:
    with open_ws(server, "/rpc") as ws:
        ws.send(json.dumps({"id": "slow", "method": "sleep", "params": [300]}))
        ws.send(json.dumps({"id": "quick", "method": "add", "params": [2, 2]}))
        assert [recv_json(ws)["id"], recv_json(ws)["id"]] == ["quick", "slow"]


def test_subscribe_answers_then_pushes_notifications(server: TestServer) -> None:
    with open_ws(server, "/rpc") as ws:
        params = {"topic": "prices", "count": 3, "interval": 5}
        ws.send(json.dumps({"id": 1, "method": "subscribe", "params": params}))
        response = recv_json(ws)
        assert response == {"id": 1, "result": {"subscription": 1, "topic": "prices", "count": 3}}
        notes = [recv_json(ws) for _ in range(3)]
    assert notes == [
        {"type": "notification", "subscription": 1, "topic": "prices", "seq": seq}
        for seq in (1, 2, 3)
    ]


def test_subscribe_has_defaults_and_checks_params(server: TestServer) -> None:
    ok = call(server, {"id": 1, "method": "subscribe"})
    assert ok == {"id": 1, "result": {"subscription": 1, "topic": "news", "count": 3}}
    bad = call(server, {"id": 2, "method": "subscribe", "params": {"count": -1}})
    assert isinstance(bad, dict)
    assert bad["error"]["code"] == -32602
