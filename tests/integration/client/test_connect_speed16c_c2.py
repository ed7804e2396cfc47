"""A connection's own set-up work is done once per URL, not once per connection (issue 15:
thousands of connections to one server in a run).

Each connect split and quoted its URL (`normalize_url`: `urlsplit`, `hostname`, `port`, `quote`)
and each handshake split it again for the `Origin` header; a connection that offers no
compression built a compression-order Condition it never used. Over real loopback connections
to one echo server (the `websockets` library).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest
from websockets.sync.server import Server

from runner.client import create_websocket
from runner.client import transport as transport_module
from runner.client.options import parse_connect_options
from runner.client.transport import Transport, normalize_url
from tests.support import timeout

_paths = itertools.count()


def echo_url(server: Server) -> str:
    """A URL of the echo server no earlier test used (a fresh path each time)."""
    host, port = server.socket.getsockname()[:2]
    return f"ws://{host}:{port}/c2-{next(_paths)}"


def connect_and_close(url: str, times: int) -> None:
    for _ in range(times):
        ws = create_websocket()
        opened = ws.connect(url, {"pingInterval": 0})
        assert opened is not None and opened.result(timeout()) is True
        closed = ws.close()
        assert closed is not None and closed.result(timeout()) is True
        assert ws.wait_closed(timeout())


def counting(monkeypatch: pytest.MonkeyPatch, name: str) -> list[int]:
    calls = [0]
    real: Callable[..., Any] = getattr(transport_module, name)

    def call(*args: Any) -> Any:
        calls[0] += 1
        return real(*args)

    monkeypatch.setattr(transport_module, name, call)
    return calls


def test_a_url_is_checked_and_quoted_once_for_many_connections(
    echo_server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: `_check_url` (a `urlsplit` and its `hostname` and `port`) on every connect."""
    checks = counting(monkeypatch, "_check_url")
    url = echo_url(echo_server)
    connect_and_close(url, 3)
    assert checks == [1]


def test_a_bad_url_still_fails_every_time() -> None:
    for _ in range(2):
        with pytest.raises(Exception, match="scheme isn't ws or wss"):
            normalize_url("http://c2-bad.invalid/")
    ws = create_websocket()
    failed = ws.connect("http://c2-bad.invalid/")
    assert failed is not None and "scheme isn't ws or wss" in str(failed.exception(timeout()))


def test_the_origin_is_split_once_per_url(echo_server: Server) -> None:
    """Before: the `Origin` header's URL was split (`urlsplit`, `hostname`, `port`) on every
    handshake."""
    url = echo_url(echo_server)
    before = transport_module._origin_text.cache_info()
    connect_and_close(url, 3)
    after = transport_module._origin_text.cache_info()
    assert (after.misses - before.misses, after.hits - before.hits) == (1, 2)


def test_a_connection_without_compression_builds_no_order_condition() -> None:
    """Before: every Transport built a `threading.Condition` (and its lock) for the
    compression order, used only when permessage-deflate carries its context over."""
    plain = [Transport("ws://127.0.0.1:9/", parse_connect_options({})) for _ in range(2)]
    assert plain[0]._order is plain[1]._order is transport_module._UNORDERED
    offered = parse_connect_options({"compression": "deflate"})
    compressed = [Transport("ws://127.0.0.1:9/", offered) for _ in range(2)]
    assert compressed[0]._order is not compressed[1]._order
    assert transport_module._UNORDERED not in (compressed[0]._order, compressed[1]._order)
    for transport in plain + compressed:
        transport.teardown()
