"""STOMP 1.2 frames, sans-I/O: bytes in, `StompFrame`s (and heart-beats) out, and back.

Written here rather than borrowed from stomp.py: its `stomp.utils.convert_frame` does not
escape header values (a destination holding ``:`` or a newline makes a broken frame),
`parse_frame` drops a header line without a colon and keeps an undefined escape (STOMP 1.2
says both are errors) and reads no ``content-length``, and importing `stomp.utils` imports the
whole client (websocket-client included) and looks the host's names up in DNS. Both wsrun's
`stomp` protocol and the built-in server's `/stomp` broker use this module; it imports nothing
of wsrun.

Frames may span WebSocket messages and a message may hold several (and EOL heart-beats):
`Splitter` buffers bytes, bounded by a largest frame.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = [
    "CLIENT_COMMANDS",
    "HEARTBEAT",
    "SERVER_COMMANDS",
    "CodecError",
    "Splitter",
    "StompFrame",
    "encode",
    "negotiate_heartbeat",
]

#: STOMP 1.2 "Client Frames" and "Server Frames".
CLIENT_COMMANDS = frozenset(
    {"SEND", "SUBSCRIBE", "UNSUBSCRIBE", "BEGIN", "COMMIT", "ABORT", "ACK", "NACK"}
    | {"DISCONNECT", "CONNECT", "STOMP"}
)
SERVER_COMMANDS = frozenset(["CONNECTED", "MESSAGE", "RECEIPT", "ERROR"])
#: The frames whose headers are not escaped (STOMP 1.2 "Value Encoding").
_RAW_HEADERS = frozenset({"CONNECT", "CONNECTED", "STOMP"})
#: The largest frame a `Splitter` accepts unless told otherwise: 16 MiB.
DEFAULT_LIMIT = 16 * 1024 * 1024
_ESCAPES = {"\\": "\\\\", "\r": "\\r", "\n": "\\n", ":": "\\c"}
_UNESCAPES = {value[1]: key for key, value in _ESCAPES.items()}
_ESCAPE = re.compile(r"\\(.?)", re.DOTALL)
_COMMAND = re.compile(r"[A-Z]+")


class CodecError(ValueError):
    """Bytes that are no STOMP frame (the message names the broken rule)."""


@dataclass(frozen=True)
class StompFrame:
    """One STOMP frame; `headers` keep their order and repeats (the first one counts)."""

    command: str
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""

    def header(self, name: str, default: str | None = None) -> str | None:
        """The value of header `name` (STOMP 1.2: of a repeated header, the first)."""
        return next((value for key, value in self.headers if key == name), default)

    def header_map(self) -> dict[str, str]:
        """The headers as a dict, the first of each name."""
        found: dict[str, str] = {}
        for key, value in self.headers:
            found.setdefault(key, value)
        return found


#: What `Splitter.feed` yields for a heart-beat (an EOL between frames).
HEARTBEAT = StompFrame("")


def encode(frame: StompFrame) -> bytes:
    """The bytes of `frame`, headers escaped (but for CONNECT and CONNECTED), NUL-ended."""
    quote = (lambda text: text) if frame.command in _RAW_HEADERS else _escape
    lines = [frame.command, *(f"{quote(key)}:{quote(value)}" for key, value in frame.headers)]
    return ("\n".join(lines) + "\n\n").encode("utf-8") + frame.body + b"\x00"


def _escape(text: str) -> str:
    return "".join(_ESCAPES.get(char, char) for char in text)


def _unescape(text: str, command: str) -> str:
    def one(match: re.Match[str]) -> str:
        if match.group(1) not in _UNESCAPES:
            raise CodecError(f"{command} has the undefined escape \\{match.group(1)} in a header")
        return _UNESCAPES[match.group(1)]

    return _ESCAPE.sub(one, text)


class Splitter:
    """Turns the bytes of WebSocket messages, as they come, into frames and heart-beats.

    `commands` are the commands accepted (a client reads `SERVER_COMMANDS`, a broker
    `CLIENT_COMMANDS`). A frame larger than `limit` bytes, or a broken one, raises `CodecError`.
    """

    def __init__(self, commands: frozenset[str], limit: int = DEFAULT_LIMIT) -> None:
        self.commands = commands
        self.limit = limit
        self._buffer = bytearray()

    def feed(self, data: bytes) -> Iterator[StompFrame]:
        """Add `data`; yield each frame (and `HEARTBEAT` for each EOL between frames)."""
        self._buffer += data
        while self._buffer:
            if self._buffer[:1] == b"\n" or self._buffer[:2] == b"\r\n":
                del self._buffer[: 1 if self._buffer[:1] == b"\n" else 2]
                yield HEARTBEAT
                continue
            frame = self._frame()
            if frame is None:
                return
            yield frame

    def _frame(self) -> StompFrame | None:
        """The first whole frame, taken out of the buffer; None while it is partial."""
        match = re.search(rb"\r?\n\r?\n", self._buffer)
        if match is None:
            self._check_size(len(self._buffer))
            return None
        command, headers = self._preamble(bytes(self._buffer[: match.start()]))
        start = match.end()
        end = self._body_end(command, headers, start)
        if end is None:
            return None
        body = bytes(self._buffer[start:end])
        del self._buffer[: end + 1]
        return StompFrame(command, headers, body)

    def _preamble(self, data: bytes) -> tuple[str, tuple[tuple[str, str], ...]]:
        try:
            lines = data.decode("utf-8").replace("\r\n", "\n").split("\n")
        except UnicodeDecodeError:
            raise CodecError("frame's command or headers are not UTF-8") from None
        command = lines[0]
        if not _COMMAND.fullmatch(command) or command not in self.commands:
            known = ", ".join(sorted(self.commands))
            raise CodecError(f"unknown command {command[:40]!r}; expected one of {known}")
        return command, tuple(_header(line, command) for line in lines[1:])

    def _body_end(
        self, command: str, headers: tuple[tuple[str, str], ...], start: int
    ) -> int | None:
        """Where the body ends (its NUL), by content-length or by the first NUL."""
        length = next((value for key, value in headers if key == "content-length"), None)
        if length is None:
            end = self._buffer.find(b"\x00", start)
            if end < 0:
                self._check_size(len(self._buffer))
                return None
            return end
        if not length.isdigit():
            raise CodecError(f"{command} has content-length {length[:40]!r}, not a number")
        end = start + int(length)
        self._check_size(end + 1)
        if len(self._buffer) <= end:
            return None
        if self._buffer[end] != 0:
            raise CodecError(f"{command}'s body of content-length {length} is not followed by NUL")
        return end

    def _check_size(self, size: int) -> None:
        if size > self.limit:
            raise CodecError(f"frame is over the limit of {self.limit} bytes")


def _header(line: str, command: str) -> tuple[str, str]:
    key, colon, value = line.partition(":")
    if not colon:
        raise CodecError(f"{command} has a header line without a colon: {line[:40]!r}")
    if command in _RAW_HEADERS:
        return key, value
    return _unescape(key, command), _unescape(value, command)


def negotiate_heartbeat(mine: tuple[int, int], theirs: str | None) -> tuple[int, int]:
    """STOMP 1.2 "Heart-beating": (ms between the beats I send, ms between those I expect).

    `mine` is what I offered (cx, cy); `theirs` is the peer's ``heart-beat`` header (sx,sy).
    I send every max(cx, sy) ms unless either is 0, and expect beats every max(cy, sx).
    """
    try:
        sx, sy = (int(part) for part in (theirs or "0,0").split(","))
    except ValueError:
        raise CodecError(f"heart-beat header {theirs!r} is not two numbers") from None
    cx, cy = mine
    send = max(cx, sy) if cx and sy else 0
    expect = max(cy, sx) if cy and sx else 0
    return send, expect
