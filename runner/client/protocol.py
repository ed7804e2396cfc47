"""RFC 6455 receive rules, free of any network: frame checks, reassembly, UTF-8, close frames.

websocket-client parses frames; this module decides what they mean and which ones fail the
connection. Its UTF-8 check is Python's own decoder, which is C-fast and, used incrementally,
fails as soon as a fragment goes wrong (RFC 6455 §8.1).
"""

from __future__ import annotations

import codecs
import struct
from dataclasses import dataclass, field

from runner.rfc6455 import MAX_CONTROL_PAYLOAD, Opcode, is_sendable_close_code

__all__ = [
    "OP_BINARY",
    "OP_CLOSE",
    "OP_CONT",
    "OP_PING",
    "OP_PONG",
    "OP_TEXT",
    "MessageAssembler",
    "ProtocolViolation",
    "check_control_frame",
    "parse_close_payload",
]

# Plain ints on the hot path: an IntEnum member in framing's arithmetic costs ~9 us a frame.
OP_CONT, OP_TEXT, OP_BINARY = int(Opcode.CONTINUATION), int(Opcode.TEXT), int(Opcode.BINARY)
OP_CLOSE, OP_PING, OP_PONG = int(Opcode.CLOSE), int(Opcode.PING), int(Opcode.PONG)

PROTOCOL_ERROR = 1002
INVALID_PAYLOAD = 1007
MESSAGE_TOO_BIG = 1009

_Utf8Decoder = codecs.getincrementaldecoder("utf-8")


class ProtocolViolation(Exception):
    """The peer broke RFC 6455; the connection must be failed with `code` (§7.1.7)."""

    def __init__(self, code: int, reason: str, *, drain: bool = True) -> None:
        self.code = code
        self.reason = reason
        #: whether the connection can still read frames until the peer's Close (False when a
        #: frame is left half-read, as when its header announced too many bytes)
        self.drain = drain
        super().__init__(f"{reason} (close code {code})")


def check_control_frame(opcode: int, fin: int, length: int) -> None:
    """RFC 6455 §5.5: control frames are never fragmented and carry 125 bytes at most."""
    if not fin:
        raise ProtocolViolation(PROTOCOL_ERROR, f"fragmented control frame (opcode {opcode})")
    if length > MAX_CONTROL_PAYLOAD:
        raise ProtocolViolation(
            PROTOCOL_ERROR, f"control frame of {length} bytes (max {MAX_CONTROL_PAYLOAD})"
        )


def parse_close_payload(payload: bytes) -> tuple[int | None, str]:
    """The code and reason of a received Close frame; `None` when it had no status (§5.5.1)."""
    if not payload:
        return None, ""
    if len(payload) == 1:
        raise ProtocolViolation(PROTOCOL_ERROR, "close frame with a one-byte payload")
    (code,) = struct.unpack("!H", payload[:2])
    # §7.4: 1004-1006, 1015 and unassigned codes below 3000 must not appear on the wire.
    if not is_sendable_close_code(code):
        raise ProtocolViolation(PROTOCOL_ERROR, f"close frame with invalid code {code}")
    try:
        reason = payload[2:].decode("utf-8")
    except UnicodeDecodeError:
        raise ProtocolViolation(INVALID_PAYLOAD, "close reason is not valid UTF-8") from None
    return code, reason


@dataclass
class _Partial:
    """A fragmented message being received."""

    size: int
    decoder: codecs.IncrementalDecoder | None  # set for a text message
    data: list[bytes] = field(default_factory=list)
    text: list[str] = field(default_factory=list)


class MessageAssembler:
    """Turns data frames into whole messages (RFC 6455 §5.4), checking UTF-8 and the size limit."""

    def __init__(self, max_size: int = 0) -> None:
        self._max_size = max_size
        self._partial: _Partial | None = None

    def feed(self, opcode: int, fin: int, payload: bytes) -> str | bytes | None:
        """Add one data frame; return the message it completes, or None while one is partial."""
        if opcode == OP_CONT:
            return self._continue(fin, payload)
        if self._partial is not None:
            raise ProtocolViolation(PROTOCOL_ERROR, "new data frame inside a fragmented message")
        self._check_size(len(payload))
        if fin:  # the common case: a whole message in one frame
            return _decode(payload) if opcode == OP_TEXT else payload
        decoder = _Utf8Decoder() if opcode == OP_TEXT else None
        self._partial = _Partial(0, decoder)
        return self._continue(fin, payload)

    def _continue(self, fin: int, payload: bytes) -> str | bytes | None:
        partial = self._partial
        if partial is None:
            raise ProtocolViolation(
                PROTOCOL_ERROR, "continuation frame with no message to continue"
            )
        partial.size += len(payload)
        self._check_size(partial.size)
        if partial.decoder is None:
            partial.data.append(payload)
        else:
            partial.text.append(_feed_decoder(partial.decoder, payload, bool(fin)))
        if not fin:
            return None
        self._partial = None
        return b"".join(partial.data) if partial.decoder is None else "".join(partial.text)

    def _check_size(self, size: int) -> None:
        if self._max_size and size > self._max_size:
            raise ProtocolViolation(
                MESSAGE_TOO_BIG, f"message of over {self._max_size} bytes (limit maxMessageSize)"
            )


def _decode(payload: bytes) -> str:
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError:
        raise ProtocolViolation(INVALID_PAYLOAD, "text message is not valid UTF-8") from None


def _feed_decoder(decoder: codecs.IncrementalDecoder, payload: bytes, final: bool) -> str:
    """Fail fast: an invalid sequence is caught in the fragment that holds it (§8.1)."""
    try:
        return decoder.decode(payload, final)
    except UnicodeDecodeError:
        raise ProtocolViolation(INVALID_PAYLOAD, "text message is not valid UTF-8") from None
