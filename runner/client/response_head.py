"""The handshake response's status line and headers, in three system calls, not one per byte.

websocket-client reads the response head with ``recv(1)`` per byte (about 130 calls for a
plain 101 answer), which was most of a handshake's CPU: 1,000 connections opening at once
spent about a second in it. On a plain TCP socket this module peeks at what has arrived, finds
the blank line that ends the head, and takes exactly the head's bytes, so a frame the server
sends right after its 101 stays in the socket for the frame reader (and the body of a refusal
for websocket-client's reader): a poll and a peek, then one read of the bytes peeked at. TLS
sockets cannot peek: they keep websocket-client's reader. Either way the result, and every
error, is the same as websocket-client's `read_headers` (status, headers with lower-case names
and ``set-cookie`` values joined, status message).
"""

from __future__ import annotations

import os
import socket
import ssl
from typing import Any

import websocket
import websocket._handshake
import websocket._http

__all__ = ["install", "read_headers"]

#: How much is peeked at once: a typical 101 response head is 150 to 300 bytes.
_PEEK = 4096

_original_read_headers = websocket._http.read_headers


def read_headers(sock: Any) -> tuple[int | None, dict[str, str], str | None]:
    """websocket-client's `read_headers`, reading the head whole when the socket allows."""
    if isinstance(sock, ssl.SSLSocket) or not isinstance(sock, socket.socket):
        return _original_read_headers(sock)
    if sock.gettimeout() == 0 or os.name != "posix":  # keep websocket-client's reads
        return _original_read_headers(sock)
    peeked = _recv(sock, _PEEK, socket.MSG_PEEK)
    # The usual head, whole in the first peek, ASCII, CRLF line ends, no blank line before the
    # end: decoded and split at once (the same lines `_read_head` finds, a few times cheaper).
    end = peeked.find(b"\r\n\r\n") + 4
    if end >= 4:
        head = peeked[:end]
        if head.isascii():
            stripped = [line.strip() for line in head.decode("ascii").split("\n")]
            del stripped[-2:]  # the blank line, and the empty rest after its line end
            if all(stripped):
                _take(sock, end)
                return _parse_lines(stripped)
    return _parse(_read_head(sock, peeked))


def install() -> None:
    """Make websocket-client's handshake read response heads with `read_headers`."""
    websocket._handshake.read_headers = read_headers  # type: ignore[attr-defined]


def _read_head(sock: socket.socket, peeked: bytes) -> list[bytes]:
    """The head's lines (each with its line end), up to and with the blank line, from the
    bytes `peeked` at first and what follows; consumes exactly those bytes."""
    lines: list[bytes] = []
    partial = b""
    first = True
    while True:
        if not first:  # peek at what has arrived since
            peeked = _recv(sock, _PEEK, socket.MSG_PEEK)
        first = False
        data = partial + peeked
        start = 0
        while True:
            end = data.find(b"\n", start) + 1
            if end == 0:
                break
            line = data[start:end]
            lines.append(line)
            start = end
            if not _decoded(line).strip():
                _take(sock, end - len(partial))
                return lines
        _take(sock, len(peeked))  # all of it belongs to the head
        partial = data[start:]


def _take(sock: socket.socket, size: int) -> None:
    """Consume `size` bytes that were peeked at (they are in the socket's buffer): read
    directly, as they are there (a `recv` on a socket with a timeout polls first)."""
    while size > 0:
        try:
            size -= len(os.read(sock.fileno(), size) or _recv(sock, size, 0))
        except BlockingIOError:  # cannot happen for peeked bytes; websocket-client's way then
            size -= len(_recv(sock, size, 0))


def _recv(sock: socket.socket, size: int, flags: int) -> bytes:
    """`sock.recv`, with websocket-client's exceptions for a timeout and a closed link."""
    try:
        data = sock.recv(size, flags)
    except TimeoutError:
        raise websocket.WebSocketTimeoutException("Connection timed out") from None
    if not data:
        raise websocket.WebSocketConnectionClosedException("Connection to remote host was lost.")
    return data


def _decoded(line: bytes) -> str:
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError as e:
        raise websocket.WebSocketException(
            f"Invalid header line, not valid UTF-8 at byte {e.start}: {line!r}"
        ) from None


def _parse(lines: list[bytes]) -> tuple[int | None, dict[str, str], str | None]:
    """websocket-client's parsing of the head's lines (its `read_headers` loop)."""
    stripped: list[str] = []
    for raw in lines:
        line = _decoded(raw).strip()
        if not line:
            break
        stripped.append(line)
    return _parse_lines(stripped)


def _parse_lines(lines: list[str]) -> tuple[int | None, dict[str, str], str | None]:
    """`_parse` of the head's lines decoded and stripped, the blank line left out."""
    status: int | None = None
    status_message: str | None = None
    headers: dict[str, str] = {}
    for line in lines:
        if not status:
            status_info = line.split(" ", 2)
            try:
                status = int(status_info[1])
            except (IndexError, ValueError):
                raise websocket.WebSocketException(f"Invalid status line: {line!r}") from None
            if len(status_info) > 2:
                status_message = status_info[2]
            continue
        kv = line.split(":", 1)
        if len(kv) != 2:
            raise websocket.WebSocketException("Invalid header")
        key, value = kv
        if key.lower() == "set-cookie" and headers.get("set-cookie"):
            headers["set-cookie"] = headers["set-cookie"] + "; " + value.strip()
        else:
            headers[key.lower()] = value.strip()
    return status, headers, status_message
