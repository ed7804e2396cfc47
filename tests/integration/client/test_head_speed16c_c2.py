"""The usual handshake response head (whole in the first peek, ASCII, CRLF line ends) is
decoded and split at once, not line by line (issue 15: a connection's handshake cost), with the
same result as websocket-client's own reader for every head, usual or not."""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

import pytest

from runner.client import response_head
from tests.support import timeout

USUAL = (
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Set-Cookie: a=1\r\nSet-Cookie: b=2\r\nX-Spaced:   padded\x1f value \t\r\n\r\n"
)
UNUSUAL = [
    b"HTTP/1.1 101 OK\nUpgrade: websocket\n\n",  # bare line ends
    b"HTTP/1.1 101 OK\r\nX: caf\xc3\xa9\r\n\r\n",  # UTF-8
    b"HTTP/1.1 101 OK\r\nA: b\r\n \r\nC: d\r\n\r\n",  # a blank-looking line before the end
    b"HTTP/1.1 101\r\nA: b\n\r\n",  # ends with LF CRLF
    b"HTTP/1.1 101 OK\r\nX: \xff\r\n\r\n",  # not UTF-8: the same error
    b"HTTP/1.1 abc OK\r\n\r\n",  # a bad status line: the same error
    b"HTTP/1.1 101 OK\r\nno colon\r\n\r\n",  # a bad header: the same error
]
AFTER = b"\x81\x02hi"  # a frame right after the head stays in the socket


def read_with(reader: Callable[[Any], Any], head: bytes) -> tuple[Any, bytes]:
    """What `reader` makes of `head` (or its error's type and message) and, when it read the
    head, the bytes left in the socket after it."""
    a, b = socket.socketpair()
    try:
        a.settimeout(timeout(5))
        b.sendall(head + AFTER)
        try:
            result: Any = reader(a)
        except Exception as exc:
            return (type(exc), str(exc)), b""
        return result, a.recv(64, socket.MSG_DONTWAIT)
    finally:
        a.close()
        b.close()


@pytest.mark.parametrize("head", [USUAL, *UNUSUAL])
def test_every_head_reads_as_websocket_clients_reader_reads_it(head: bytes) -> None:
    assert read_with(response_head.read_headers, head) == read_with(
        response_head._original_read_headers, head
    )


def test_the_usual_head_is_not_read_line_by_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: `_read_head` split it line by line and `_parse` decoded each line again."""
    calls = {"read_head": 0, "decoded": 0}
    real_read_head, real_decoded = response_head._read_head, response_head._decoded

    def read_head(*args: Any) -> Any:
        calls["read_head"] += 1
        return real_read_head(*args)

    def decoded(line: bytes) -> str:
        calls["decoded"] += 1
        return real_decoded(line)

    monkeypatch.setattr(response_head, "_read_head", read_head)
    monkeypatch.setattr(response_head, "_decoded", decoded)
    result, rest = read_with(response_head.read_headers, USUAL)
    assert result[0] == 101 and result[1]["set-cookie"] == "a=1; b=2" and rest == AFTER
    assert calls == {"read_head": 0, "decoded": 0}
    read_with(response_head.read_headers, UNUSUAL[0])
    assert calls["read_head"] == 1  # the others still take the line-by-line reader
